#!/usr/bin/env bash
# Local run without Azure: Azurite (Table + Queue) and the Graph emulator behind `python -m lifecycle serve`.
# Ports (make variables or environment): API_PORT 7071, EMULATOR_PORT 8081 (Graph emulator), AZURITE_BLOB_PORT 10000,
# AZURITE_QUEUE_PORT 10001, AZURITE_TABLE_PORT 10002; e.g. `make run API_PORT=7072`.
# The emulated tenant lives in memory, and so do the tables (Azurite --inMemoryPersistence): both start empty at each
# start and are gone when it stops, so the records never outlive the guests they describe.
set -euo pipefail
cd "$(dirname "$0")/.."
api_port="${API_PORT:-7071}"
emulator_port="${EMULATOR_PORT:-8081}"
blob_port="${AZURITE_BLOB_PORT:-10000}"
queue_port="${AZURITE_QUEUE_PORT:-10001}"
table_port="${AZURITE_TABLE_PORT:-10002}"

# Every port free, or say which variable moves it.
.venv/bin/python - "$api_port:API_PORT" "$emulator_port:EMULATOR_PORT" "$blob_port:AZURITE_BLOB_PORT" \
  "$queue_port:AZURITE_QUEUE_PORT" "$table_port:AZURITE_TABLE_PORT" <<'PY'
import socket, sys
for entry in sys.argv[1:]:
    port, name = entry.split(":")
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", int(port)))
        except OSError:
            sys.exit(f"port {port} ({name}) is in use: choose another, e.g. make run {name}={int(port) + 1}")
PY

mkdir -p .azurite .run
node_modules/.bin/azurite --silent --skipApiVersionCheck --loose --inMemoryPersistence \
  --blobPort "$blob_port" --queuePort "$queue_port" --tablePort "$table_port" > .azurite/azurite.log 2>&1 &
azurite_pid=$!
trap 'kill $azurite_pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$table_port") 2>/dev/null; then break; fi
  if ! kill -0 "$azurite_pid" 2>/dev/null; then echo "Azurite did not start:"; tail -5 .azurite/azurite.log; exit 1; fi
  sleep 0.2
done

# Azurite's well-known development account, on the ports chosen above.
account="AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
endpoints="TableEndpoint=http://127.0.0.1:$table_port/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue_port/devstoreaccount1"
export LIFECYCLE_TABLES_CONNECTION_STRING="${LIFECYCLE_TABLES_CONNECTION_STRING:-DefaultEndpointsProtocol=http;$account;$endpoints;}"
export GRAPH_BASE_URL="http://127.0.0.1:$emulator_port/v1.0"
export MANAGED_GROUP_IDS="${MANAGED_GROUP_IDS:-$(.venv/bin/python -c \
  'from devserver.emulated_graph import demo_group_ids; print(",".join(demo_group_ids()))')}"
export LIFECYCLE_FUNCTION_KEY="${LIFECYCLE_FUNCTION_KEY:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')}"

# What the command line needs to reach this stack (the environment wins over local.settings.json).
{
  echo "# Written by make run: the settings of the local stack it serves. Load with: . .run/local.env"
  for name in LIFECYCLE_TABLES_CONNECTION_STRING GRAPH_BASE_URL MANAGED_GROUP_IDS; do
    printf "export %s='%s'\n" "$name" "${!name}"
  done
} > .run/local.env

echo "Azurite: blob 127.0.0.1:$blob_port, queue 127.0.0.1:$queue_port, table 127.0.0.1:$table_port (AZURITE_*_PORT)"
echo "The emulated tenant and the tables are in memory: both start empty now and are gone when this stops."
echo "Try:  curl -s -X POST http://127.0.0.1:$api_port/api/guests -H \"x-functions-key: $LIFECYCLE_FUNCTION_KEY\" \\"
echo "        -H 'Content-Type: application/json' -d '{\"email\": \"ann@fabrikam.com\"}'"
echo "CLI against this stack (another terminal):  . .run/local.env && .venv/bin/python -m lifecycle expire --dry-run"
.venv/bin/python -m lifecycle serve --emulate-graph --port "$api_port" --emulator-port "$emulator_port"

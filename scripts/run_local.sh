#!/usr/bin/env bash
# Local run without Azure: Azurite (Table + Queue) and the Graph emulator behind `python -m lifecycle serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .azurite
node_modules/.bin/azurite --silent --skipApiVersionCheck --loose --location .azurite \
  --blobPort "${AZURITE_BLOB_PORT:-10000}" --queuePort "${AZURITE_QUEUE_PORT:-10001}" \
  --tablePort "${AZURITE_TABLE_PORT:-10002}" > .azurite/azurite.log 2>&1 &
azurite_pid=$!
trap 'kill $azurite_pid 2>/dev/null || true' EXIT INT TERM
# Azurite's well-known development account, on the ports chosen above.
account="AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
endpoints="TableEndpoint=http://127.0.0.1:${AZURITE_TABLE_PORT:-10002}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:${AZURITE_QUEUE_PORT:-10001}/devstoreaccount1"
export LIFECYCLE_TABLES_CONNECTION_STRING="${LIFECYCLE_TABLES_CONNECTION_STRING:-DefaultEndpointsProtocol=http;$account;$endpoints;}"
export LIFECYCLE_FUNCTION_KEY="${LIFECYCLE_FUNCTION_KEY:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')}"
echo "Azurite: table 127.0.0.1:${AZURITE_TABLE_PORT:-10002}, queue 127.0.0.1:${AZURITE_QUEUE_PORT:-10001} (data in .azurite/)"
echo "Try:  curl -s -X POST http://127.0.0.1:${PORT:-7071}/api/guests -H \"x-functions-key: $LIFECYCLE_FUNCTION_KEY\" \\"
echo "        -H 'Content-Type: application/json' -d '{\"email\": \"ann@fabrikam.com\"}'"
.venv/bin/python -m lifecycle serve --emulate-graph --port "${PORT:-7071}" --emulator-port "${EMULATOR_PORT:-8081}"

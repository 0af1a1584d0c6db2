"""Helpers shared by the test tiers: local services (Azurite, the Graph emulator) and settings."""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
GROUP_A = "6f1c1ef7-2b1e-4a3c-9d51-00000000000a"
GROUP_B = "6f1c1ef7-2b1e-4a3c-9d51-00000000000b"
GROUP_UNMANAGED = "6f1c1ef7-2b1e-4a3c-9d51-0000000000ff"


class MovableClock:
    """The wall clock, moved on by `offset` when a test needs a later day."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


class Azurite:
    """An Azurite process (Table + Queue + Blob, in memory) on free ports (the tests and the benchmarks use it).

    With `oauth=True` it serves HTTPS with a certificate made for this run (a local CA, `ca_file`, signs it) and
    checks bearer tokens as `--oauth basic` does: issuer `https://sts.windows.net/...` (or another Microsoft cloud's),
    audience `https://storage.azure.com` (or the account's service URL), nbf/exp; signatures are not checked."""

    def __init__(self, *, oauth: bool = False) -> None:
        self.table_port, self.queue_port, self.blob_port = free_port(), free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.oauth = oauth
        self._workdir = tempfile.mkdtemp(prefix="azurite-")
        self.ca_file = str(Path(self._workdir) / "ca.pem")

    def start(self) -> Azurite:
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            found = shutil.which("azurite")
            if not found:
                raise RuntimeError("Azurite is not installed: run `npm ci` (make test does)")
            binary = Path(found)
        self.process = subprocess.Popen(
            [str(binary), "--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--loose",
             "--blobPort", str(self.blob_port), "--queuePort", str(self.queue_port),
             "--tablePort", str(self.table_port), *self._oauth_arguments()], cwd=self._workdir,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.table_port)
            wait_for_port(self.queue_port)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def _oauth_arguments(self) -> list[str]:
        """HTTPS with a certificate for 127.0.0.1 signed by a CA made now, and `--oauth basic`."""
        if not self.oauth:
            return []
        import trustme

        authority = trustme.CA()
        authority.cert_pem.write_to_path(self.ca_file)
        server = authority.issue_cert("127.0.0.1", "localhost")
        cert, key = Path(self._workdir) / "cert.pem", Path(self._workdir) / "key.pem"
        server.cert_chain_pems[0].write_to_path(str(cert))
        server.private_key_pem.write_to_path(str(key))
        return ["--cert", str(cert), "--key", str(key), "--oauth", "basic"]

    @property
    def scheme(self) -> str:
        return "https" if self.oauth else "http"

    @property
    def table_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.table_port}/devstoreaccount1"

    @property
    def queue_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.queue_port}/devstoreaccount1"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol={self.scheme};AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
                f"TableEndpoint={self.scheme}://127.0.0.1:{self.table_port}/devstoreaccount1;"
                f"QueueEndpoint={self.scheme}://127.0.0.1:{self.queue_port}/devstoreaccount1;"
                f"BlobEndpoint={self.scheme}://127.0.0.1:{self.blob_port}/devstoreaccount1;")


def app_environment(connection_string: str, graph_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "GRAPH_BASE_URL": graph_url,
        "LIFECYCLE_TABLES_CONNECTION_STRING": connection_string,
        "LIFECYCLE_TABLE_PREFIX": "t" + uuid.uuid4().hex[:12],
        "MANAGED_GROUP_IDS": f"{GROUP_A},{GROUP_B}",
        "LIFECYCLE_EVENTS_QUEUE": "e" + uuid.uuid4().hex[:12],
    }
    env.update(overrides)
    return env


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


PEEK_LIMIT = 32  # the most messages a Storage Queue peek returns


def queued_events(connection_string: str, queue_name: str, **client_options: Any) -> list[dict[str, Any]]:
    """The CloudEvents waiting on a Storage Queue, oldest first, read without taking them off the queue.

    A queue that does not exist yet holds nothing (the publisher creates it on its first event). Any other failure
    raises, and so does a queue holding more than one peek can show: a test never reads a partial or failed peek
    as "no events"."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    with QueueClient.from_connection_string(connection_string, queue_name, **client_options) as queue:
        try:
            messages = queue.peek_messages(max_messages=PEEK_LIMIT)
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) != "QueueNotFound":
                raise
            return []
        if len(messages) == PEEK_LIMIT:
            raise AssertionError(f"queue {queue_name} holds {PEEK_LIMIT} messages or more: a peek shows only "
                                 f"{PEEK_LIMIT}; use a queue of the test's own")
        return [json.loads(message.content) for message in messages]


def logged(records: Iterable[logging.LogRecord]) -> list[dict[str, Any]]:
    """The entries the app logged among `records` (lifecycle.logs writes each as one JSON object), in order."""
    return [json.loads(record.getMessage()) for record in records if record.name.startswith("lifecycle")]


class SetClock:
    """A clock standing at `now` (the wall clock's time when made, unless given) until a test sets it on."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

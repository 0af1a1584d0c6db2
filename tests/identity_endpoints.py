"""Managed-identity endpoints that fail, for the tests of what the app does without a token: one that is closed
(nothing listens) and one that accepts connections and never answers. The Graph emulator's endpoint answers; these
stand beside it, so it needs no switch for them."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

TOKEN_PATH = "/msi/token"


def closed_endpoint() -> str:
    """The URL of a port nothing listens on (bound, then released: connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{TOKEN_PATH}"


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """The URL of a server that accepts every connection and never answers (until the context ends)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}{TOKEN_PATH}"
    finally:
        stop.set()
        thread.join(2)
        for connection in held:
            connection.close()
        server.close()

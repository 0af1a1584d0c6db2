"""Serving the emulator over real HTTP with uvicorn: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .app import create_app
from .client import EmulatorControl
from .identity import TOKEN_PATH, IdentityIssuer
from .state import Emulator


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (port 0 picks a free port; read it back with getsockname). Connections
    made before uvicorn starts wait in the backlog instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP (not 0) lets asyncio set TCP_NODELAY on accepted connections: without it every
    # response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def base_url(host: str, port: int) -> str:
    """`http://host:port`, bracketing an IPv6 literal."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    shown = f"[{host}]" if literal is not None and literal.version == 6 else host
    return f"http://{shown}:{port}"


def identity_environment(url: str, identity: IdentityIssuer) -> dict[str, str]:
    """IDENTITY_ENDPOINT, IDENTITY_HEADER and AZURE_CLIENT_ID for the identity endpoint served at `url`."""
    return {"IDENTITY_ENDPOINT": url + TOKEN_PATH, "IDENTITY_HEADER": identity.secret,
            "AZURE_CLIENT_ID": identity.client_id}


def uvicorn_server(app: Starlette, log_level: str = "warning", access_log: bool = False) -> uvicorn.Server:
    """A uvicorn server for `app` that leaves the process's logging configuration alone."""
    config = uvicorn.Config(app, log_config=None, log_level=log_level, access_log=access_log, lifespan="off",
                            loop="asyncio", http="h11", ws="none")
    return uvicorn.Server(config)


class EmulatorServer:
    """The emulator on a background thread with its own event loop.

    `start()` returns once it is listening; `url` is `http://host:port`, `graph_url` the Graph root
    (`url + "/v1.0"`, no trailing slash), `control` a client of the control API, `emulator` the live state,
    `identity` the managed identity whose endpoint it serves (`identity_environment()` points an app at it).
    Also a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, start_timeout: float = 10.0,
                 **switches: Any) -> None:
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.app = create_app(**switches)
        self.emulator: Emulator = self.app.state.emulator
        self.identity: IdentityIssuer = self.app.state.identity
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._control: EmulatorControl | None = None

    @property
    def url(self) -> str:
        return base_url(self.host, self.port)

    @property
    def graph_url(self) -> str:
        return self.url + "/v1.0"

    @property
    def identity_endpoint(self) -> str:
        return self.url + TOKEN_PATH

    def identity_environment(self) -> dict[str, str]:
        """The variables the App Service platform sets for a managed identity, naming this endpoint."""
        return identity_environment(self.url, self.identity)

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            self._control = EmulatorControl(self.url)
        return self._control

    def start(self) -> EmulatorServer:
        """Bind, serve on a daemon thread, and wait until uvicorn has started."""
        if self._thread is not None:
            raise RuntimeError("EmulatorServer already started")
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn_server(self.app)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"graph-emulator-{self.port}", daemon=True)
        self._thread.start()
        self._wait_started()
        return self

    def _wait_started(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Graph emulator did not start on {self.url}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for the thread, release the socket (safe to call twice)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self.start_timeout)
        if self._socket is not None:
            self._socket.close()
        if self._control is not None:
            self._control.close()
        self._server = self._thread = self._socket = self._control = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

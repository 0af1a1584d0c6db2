"""`python -m lifecycle serve` as a process of its own (as a developer starts it), and browser-like sessions with its
emulated App Service authentication."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support import ROOT, free_port, wait_for_port


@contextmanager
def served(env: dict[str, str], *, timeout: float = 60) -> Iterator[str]:
    """The development server on a free loopback port with exactly `env` (and a PATH); yields its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "lifecycle", "serve", "--port", str(port)], cwd=ROOT,
                               env={"PATH": "/usr/bin:/bin", **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        try:
            wait_for_port(port, timeout=timeout)
        except RuntimeError as exc:
            process.kill()
            raise RuntimeError(f"the development server did not start:\n{process.communicate(timeout=20)[0]}") from exc
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate(timeout=20)


@contextmanager
def signed_in(base_url: str, user: str) -> Iterator[httpx.Client]:
    """A client holding the session cookie of `user` (UPN, mail or object id of an emulated user), signed in as a
    browser is: /.auth/login/aad, then the redirect."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.get("/.auth/login/aad", params={"user": user, "post_login_redirect_uri": "/api/portal"})
        assert answer.status_code == 302 and answer.headers["location"] == "/api/portal", answer.text
        assert client.cookies.get("AppServiceAuthSession")
        yield client

"""A fake of azure-core's AsyncTokenCredential protocol (what azure-identity's credentials implement), and enough of
an HTTP response for azure-core's HttpResponseError: the SDKs' own code runs unchanged around them."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from azure.core.credentials import AccessToken


class FakeCredential:
    """Answers each get_token with `outcome`: a token, an exception to raise, or None to never answer. `asked`
    records the scopes of every request."""

    def __init__(self, outcome: Any = "token") -> None:
        self.outcome = outcome
        self.asked: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.asked.append(scopes)
        if self.outcome is None:
            await asyncio.Event().wait()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return AccessToken(self.outcome, int(time.time()) + 3600)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> FakeCredential:
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass


class Response:
    """An HTTP answer of `status` as azure-core's HttpResponseError reads one."""

    def __init__(self, status: int) -> None:
        self.status_code, self.reason, self.headers, self.content_type = status, "", {}, "application/json"

    def text(self, encoding: str | None = None) -> str:
        return ""

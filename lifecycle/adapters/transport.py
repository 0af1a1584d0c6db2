"""Transport settings shared by the storage clients."""
from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit


def proxy_settings(url: str) -> dict[str, Any]:
    """The azure-core transport keyword for a client of `url`: the proxy environment is read once, here.

    aiohttp, told to trust the environment, looks the proxy up in a worker thread on every request. When the
    environment names no proxy for this URL (HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY) there is nothing to look
    up, and the client is built without that lookup; when it names one, the client keeps reading it."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return {}
    return {"use_env_settings": False}

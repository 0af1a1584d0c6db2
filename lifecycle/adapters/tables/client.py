"""The Table service client, built from the app's settings (a connection string, or the endpoint with the managed
identity), and the app's tables, created on first use."""
from __future__ import annotations

import asyncio
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient, TableServiceClient

from lifecycle.adapters.tables.errors import storage_errors
from lifecycle.adapters.transport import proxy_settings
from lifecycle.config import Settings
from lifecycle.errors import ConfigurationError

_RETRY: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.3, "connection_timeout": 5, "read_timeout": 20}

CONNECTION_STRING = "LIFECYCLE_TABLES_CONNECTION_STRING"
ENDPOINT = "LIFECYCLE_TABLES_ENDPOINT"


def no_storage() -> ConfigurationError:
    return ConfigurationError(f"set {CONNECTION_STRING} or {ENDPOINT}", settings=(CONNECTION_STRING, ENDPOINT))


def malformed(setting: str, what: str) -> ConfigurationError:
    """A storage setting the SDK cannot use, named (its value never shown: a connection string holds a key)."""
    return ConfigurationError(f"{setting} cannot be used: {what}", settings=(setting,))


def build_service_client(settings: Settings, credential: AsyncTokenCredential | None) -> TableServiceClient:
    """A connection string when one is set (Azurite, development), else the endpoint with the managed identity.
    Raises ConfigurationError naming the setting when neither is set or the one set cannot be parsed."""
    if settings.tables_connection_string:
        try:
            url = TableServiceClient.from_connection_string(settings.tables_connection_string).url
            return TableServiceClient.from_connection_string(settings.tables_connection_string, **_RETRY,
                                                             **proxy_settings(url))
        except ValueError:
            raise malformed(CONNECTION_STRING, "it is not a Table Storage connection string (AccountName and "
                            "AccountKey, or UseDevelopmentStorage=true)") from None
    if not settings.tables_endpoint:
        raise no_storage()
    if credential is None:
        raise ConfigurationError(f"{ENDPOINT} needs the managed identity's credential", settings=(ENDPOINT,))
    try:
        return TableServiceClient(settings.tables_endpoint, credential=credential, **_RETRY,
                                  **proxy_settings(settings.tables_endpoint))
    except ValueError:
        raise malformed(ENDPOINT, "it is not a table service URL") from None


class LifecycleTables:
    """Lazily creates (once per worker) and hands out the app's tables."""

    def __init__(self, service: TableServiceClient, settings: Settings) -> None:
        self._service = service
        self._settings = settings
        self._clients: dict[str, TableClient] = {}
        self._creating: asyncio.Lock | None = None

    async def table(self, kind: str) -> TableClient:
        """The table's client; the table is created on first use, once however many ask at the same time."""
        if kind in self._clients:
            return self._clients[kind]
        self._creating = self._creating or asyncio.Lock()
        async with self._creating:
            if kind not in self._clients:
                name = self._settings.table_name(kind)
                async with storage_errors(f"create table {name}"):
                    try:
                        await self._service.create_table(name)
                    except ResourceExistsError:
                        pass
                self._clients[kind] = self._service.get_table_client(name)
        return self._clients[kind]

    async def close_tables(self) -> None:
        """Close the tables' clients, leaving the service client to its owner."""
        for client in self._clients.values():
            await client.close()

    async def close(self) -> None:
        await self.close_tables()
        await self._service.close()

"""Azure Storage Queue adapter for lifecycle events (CloudEvents 1.0 JSON). SDK errors never leave it: publishing
raises StorageUnavailable, or IdentityUnavailable when the app's identity gives no storage token; building raises
ConfigurationError naming a storage setting that is missing or cannot be used."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue.aio import QueueClient

from lifecycle.adapters.identity import STORAGE, identity_unavailable, token_failure
from lifecycle.adapters.tables.client import CONNECTION_STRING, ENDPOINT, malformed, no_storage
from lifecycle.adapters.transport import proxy_settings
from lifecycle.config import Settings
from lifecycle.errors import ConfigurationError, StorageUnavailable
from lifecycle.ports import Event

SOURCE = "/guest-lifecycle"
# The queue client builds its own ExponentialRetry from these (it ignores azure-core's `retry_backoff_factor`): left at
# its defaults it waits 15 s, then 18 s, and an unreachable queue holds a request for about 40 s.
_RETRY: dict[str, Any] = {"retry_total": 2, "initial_backoff": 0.5, "increment_base": 1, "random_jitter_range": 0.2,
          "connection_timeout": 5}


def cloud_event(event: Event) -> dict[str, object]:
    return {"specversion": "1.0", "id": event.id, "type": event.type, "source": SOURCE,
            "subject": f"guests/{event.guest_id}", "time": event.time.isoformat() if event.time else None,
            "datacontenttype": "application/json", "data": event.data}


def queue_endpoint(settings: Settings) -> str:
    if settings.queues_endpoint:
        return settings.queues_endpoint
    if not settings.tables_endpoint:
        raise no_storage()
    return settings.tables_endpoint.replace(".table.", ".queue.", 1)


class QueueEventPublisher:
    """Publishes events to the LIFECYCLE_EVENTS_QUEUE queue in the tables' storage account."""

    def __init__(self, settings: Settings, credential: AsyncTokenCredential | None) -> None:
        if settings.tables_connection_string:
            try:
                url = QueueClient.from_connection_string(settings.tables_connection_string, settings.events_queue).url
                self._client = QueueClient.from_connection_string(
                    settings.tables_connection_string, settings.events_queue, **_RETRY, **proxy_settings(url))
            except ValueError:
                raise malformed(CONNECTION_STRING, "it is not a Storage connection string (AccountName and "
                                "AccountKey, or UseDevelopmentStorage=true)") from None
        elif credential is None:
            raise ConfigurationError(f"{ENDPOINT} needs the managed identity's credential", settings=(ENDPOINT,))
        else:
            endpoint = queue_endpoint(settings)
            setting = "LIFECYCLE_QUEUES_ENDPOINT" if settings.queues_endpoint else ENDPOINT
            try:
                self._client = QueueClient(endpoint, settings.events_queue, credential=credential, **_RETRY,
                                           **proxy_settings(endpoint))
            except ValueError:
                raise malformed(setting, "it is not a storage service URL") from None
        self._created = False
        self._creating: asyncio.Lock | None = None

    async def publish(self, event: Event) -> None:
        try:
            await self._ensure_queue()
            await self._client.send_message(json.dumps(cloud_event(event), default=str))
        except AzureError as exc:
            if token_failure(exc) is not None:
                raise identity_unavailable("event queue", STORAGE, exc) from exc
            raise StorageUnavailable(f"event queue: {type(exc).__name__}", retry_after=10) from exc

    async def _ensure_queue(self) -> None:
        """Create the queue once per publisher, however many events are published at once."""
        if self._created:
            return
        self._creating = self._creating or asyncio.Lock()
        async with self._creating:
            if not self._created:
                try:
                    await self._client.create_queue()
                except ResourceExistsError:
                    pass
                self._created = True

    async def close(self) -> None:
        await self._client.close()

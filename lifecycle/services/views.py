"""The read side of the API: one guest (a poll also finishes its pending Graph work), a page of guests, and whether
storage answers. Every read the HTTP functions make goes through here."""
from __future__ import annotations

from lifecycle.domain.model import Guest
from lifecycle.errors import LifecycleError
from lifecycle.ports import GuestQuery, Page
from lifecycle.services.provisioning import Provisioner
from lifecycle.services.records import GuestRecords

STORAGE_OK = "ok"


class GuestView:
    def __init__(self, records: GuestRecords, provisioner: Provisioner) -> None:
        self._records = records
        self._provisioner = provisioner

    async def get(self, guest_id: str) -> Guest:
        """The tracked guest; NotFound (GuestNotFound) when there is none. Only reads."""
        return await self._records.load(guest_id)

    async def poll(self, guest_id: str, actor: str) -> Guest:
        """The guest after retrying the Graph work its record still wants (groups, attributes), in `actor`'s name:
        the record already holds the intent, so each poll of a 202 moves it on."""
        guest = await self.get(guest_id)
        if guest.has_pending_graph_work:
            guest = await self._provisioner.finish(guest, actor=actor)
        return guest

    async def list(self, query: GuestQuery) -> Page:
        """One page of tracked guests matching `query` (GuestStore.query)."""
        return await self._records.store.query(query)

    async def storage_status(self) -> str:
        """"ok" when storage answers, else what went wrong (no secrets)."""
        try:
            await self._records.store.ping()
        except LifecycleError as exc:
            return exc.message
        return STORAGE_OK

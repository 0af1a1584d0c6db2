"""Adoption of many guests on in-memory fakes: pages processed without holding the directory, the guard refusing as a
whole, the dry run, an interrupted run resumed, the HTTP route's limit and the command line's progress."""
from __future__ import annotations

import asyncio
import json
import weakref
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from lifecycle.cli import main
from lifecycle.errors import Conflict
from lifecycle.ports import GuestScan
from lifecycle.services.adoption import AdoptionService, Progress
from tests.api_client import call
from tests.rewire import with_settings

WRITERS = 16  # fewer than the queue holds, so that a queue of 100 is the bound the tests watch


class WatchedPages:
    """`scan_guests` handing fresh users a page at a time, giving the event loop a turn between pages (as a scan over
    the network does) unless `burst`, and watching how many of the users it handed are still held by anyone."""

    def __init__(self, directory: Any, page_size: int = 50, burst: bool = False) -> None:
        self._directory = directory
        self._page_size, self._burst = page_size, burst
        self._handed: list[weakref.ref[Any]] = []
        self.scans: list[bool] = []  # per scan: were sponsors expanded (the writing pass) or not (the counting pass)
        self.most_held = {True: 0, False: 0}

    async def scan_guests(self, on_page: Any, *, sign_in_activity: bool, sponsors: bool = False) -> GuestScan:
        directory = self._directory
        self.scans.append(sponsors)
        guests = [u for u in directory.users.values() if u["userType"] == "Guest"]
        for start in range(0, len(guests), self._page_size):
            page = [directory._view(u, sign_in_activity and directory.premium, sponsors)
                    for u in guests[start:start + self._page_size]]
            self._handed += [weakref.ref(user) for user in page]
            on_page(page)
            del page
            self._handed = [ref for ref in self._handed if ref() is not None]
            self.most_held[sponsors] = max(self.most_held[sponsors], len(self._handed))
            if not self._burst:
                await asyncio.sleep(0)
        return GuestScan(len(guests), 1, sign_ins_read=sign_in_activity and directory.premium)


def watched(fakes: Any, monkeypatch: pytest.MonkeyPatch, **options: Any) -> WatchedPages:
    pages = WatchedPages(fakes.directory, **options)
    monkeypatch.setattr(fakes.directory, "scan_guests", pages.scan_guests)

    async def never(*_: Any, **__: Any) -> None:
        raise AssertionError("adoption reads the directory a page at a time, never as one listing")

    monkeypatch.setattr(fakes.directory, "list_guests", never)
    return pages


def adoption(fakes: Any, queued: int) -> AdoptionService:
    svc = fakes.services
    return AdoptionService(records=svc.records, directory=fakes.directory, audit=svc.audit, settings=fakes.settings,
                           clock=fakes.clock, policy=svc.expiry.policy(None, False), queued_guests=queued,
                           writers=WRITERS)


def guests(fakes: Any, count: int) -> list[str]:
    return [fakes.directory.add_user(f"many{n}@partner.example", state="Accepted") for n in range(count)]


def adopted_events(fakes: Any) -> Counter[str]:
    return Counter(e.guest_id for e in fakes.store.outbox if e.type == "guest.adopted")


async def test_pages_are_written_as_they_come_and_the_directory_is_never_held(fakes, monkeypatch):
    ids = guests(fakes, 1000)
    pages = watched(fakes, monkeypatch)
    report = (await adoption(fakes, queued=100).adopt(actor="test")).to_body()
    assert report["adopted"] == 1000 and report["found"] == 1000 and report["skipped"] == []
    assert set(fakes.store.guests) == set(ids) and set(adopted_events(fakes).values()) == {1}
    assert pages.most_held[False] <= 50  # counting holds no guest past its page
    assert pages.most_held[True] <= 100 + WRITERS + 50  # writing: the queue, the guests in hand, the page


async def test_a_burst_of_pages_is_left_for_later_scans_beyond_the_queue(fakes, monkeypatch):
    ids = guests(fakes, 600)
    pages = watched(fakes, monkeypatch, burst=True)  # every page handed on before any writer runs
    report = (await adoption(fakes, queued=100).adopt(actor="test")).to_body()
    assert report == {"dryRun": False, "found": 600, "adopted": 600, "alreadyTracked": 0, "skipped": [],
                      "guard": {"tripped": False, "message": ""}}
    assert set(fakes.store.guests) == set(ids) and set(adopted_events(fakes).values()) == {1}
    assert pages.scans.count(True) >= 6 and pages.most_held[True] <= 100 + 50


async def test_the_guard_refuses_the_adoption_as_a_whole_and_nothing_is_written(fakes, monkeypatch):
    services = with_settings(fakes, INACTIVITY_DAYS="90")
    ids = guests(fakes, 20)
    for user_id in ids:  # never signed in, in the directory for 400 days: inactive the moment they are tracked
        fakes.directory.users[user_id]["createdDateTime"] = fakes.clock() - timedelta(days=400)
    pages = watched(fakes, monkeypatch)
    dry = (await services.adoption.adopt(actor="test", dry_run=True)).to_body()
    assert dry["guard"]["tripped"] and "20 guests" in dry["guard"]["message"] and dry["adopted"] == 0
    with pytest.raises(Conflict) as refused:
        await services.adoption.adopt(actor="test")
    assert refused.value.code == "AdoptionGuardTripped" and "EXPIRY_GUARD_PERCENT" in refused.value.message
    assert fakes.store.guests == {} and fakes.store.claims == {} and fakes.store.outbox == []
    assert pages.scans == [False, False]  # the counting pass of each run; no writing pass
    runs = [e for e in fakes.audit.entries if e.action == "guests.adopt"]
    assert [e.details["guardTripped"] for e in runs] == [True, True]


async def test_a_dry_run_counts_in_one_pass_and_writes_nothing(fakes, monkeypatch):
    guests(fakes, 120)
    blank = fakes.directory.add_user("", state="Accepted")
    pages = watched(fakes, monkeypatch)
    report = (await fakes.services.adoption.adopt(actor="test", dry_run=True)).to_body()
    assert report["adopted"] == 120 and report["found"] == 121 and report["dryRun"]
    assert report["skipped"] == [{"id": blank, "reason": "no email (mail and otherMails are empty)"}]
    assert fakes.store.guests == {} and fakes.store.claims == {} and fakes.store.outbox == []
    assert pages.scans == [False] and [e.action for e in fakes.audit.entries] == ["guests.adopt"]


async def test_an_interrupted_run_resumed_adopts_every_guest_once(fakes, monkeypatch):
    ids = guests(fakes, 1000)
    watched(fakes, monkeypatch)
    service = adoption(fakes, queued=100)
    seen: list[Progress] = []

    def interrupt_after_300(progress: Progress) -> None:
        seen.append(progress)
        if progress.stage == "writing" and progress.adopted >= 300:
            first.cancel()

    first = asyncio.ensure_future(service.adopt(actor="test", on_progress=interrupt_after_300))
    with pytest.raises(asyncio.CancelledError):
        await first
    adopted_first = len(fakes.store.guests)
    assert 300 <= adopted_first < 1000 and set(adopted_events(fakes).values()) == {1}
    (stopped,) = [e for e in fakes.audit.entries if e.action == "guests.adopt"]
    assert stopped.outcome == "interrupted" and stopped.details["adopted"] == adopted_first
    assert {p.stage for p in seen} == {"counting", "writing"}

    again = (await service.adopt(actor="test")).to_body()
    assert again["adopted"] == 1000 - adopted_first and again["alreadyTracked"] == adopted_first
    assert again["found"] == 1000 and again["skipped"] == []
    assert set(fakes.store.guests) == set(ids)
    assert adopted_events(fakes) == Counter({guest_id: 1 for guest_id in ids})
    per_guest = Counter(e.target for e in fakes.audit.entries if e.action == "guest.adopt")
    assert per_guest == Counter({guest_id: 1 for guest_id in ids})


async def test_the_http_route_refuses_a_directory_over_its_limit_and_writes_nothing(fakes):
    with_settings(fakes, ADOPT_HTTP_MAX_GUESTS="5")
    guests(fakes, 5)
    status, report, _ = await call("adopt_guests", "POST", "adopt", {"dryRun": True})
    assert status == 200 and report["adopted"] == 5  # at the limit: adopted over HTTP
    fakes.directory.add_user("sixth@partner.example", state="Accepted")
    status, answer, _ = await call("adopt_guests", "POST", "adopt", None)
    assert status == 422 and answer["error"]["code"] == "AdoptionTooLarge"
    assert "python -m lifecycle adopt" in answer["error"]["message"]
    assert answer["error"]["details"] == [{"maxGuests": 5}]
    assert fakes.store.guests == {} and fakes.audit.entries[-1].outcome == "failed: AdoptionTooLarge"


def test_the_command_line_adopts_a_directory_over_the_http_limit(fakes):
    with_settings(fakes, ADOPT_HTTP_MAX_GUESTS="5")
    ids = guests(fakes, 6)
    done = CliRunner().invoke(main, ["adopt", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["adopted"] == 6 and set(fakes.store.guests) == set(ids)


def test_the_command_line_prints_progress_on_stderr_and_the_report_on_stdout(fakes):
    guests(fakes, 3)
    result = CliRunner().invoke(main, ["adopt", "--json", "--progress-seconds", "0"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["adopted"] == 3
    lines = result.stderr.splitlines()
    assert any(line.startswith("adoption counting: read 3, found 3") for line in lines), lines
    assert lines[-1].startswith("adoption writing: read 3, found 3, adopted 3, already tracked 0, skipped 0"), lines

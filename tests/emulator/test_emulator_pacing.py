"""The Graph adapter (msgraph-sdk over real HTTP) against the emulator's resource-unit throttle: a batch of calls far
faster than the limit paces itself on x-ms-throttle-limit-percentage instead of running into 429s."""

from __future__ import annotations

import asyncio
import time

import pytest

from graph_emulator import EmulatorControl, EmulatorServer
from lifecycle.adapters.graph.directory import GraphDirectory
from lifecycle.config import Settings

CALLS = 240
# 30 RU/s. The header comes at 0.8 of the limit: the last fifth of the bucket (24 RU) must hold what is already in
# flight then (up to GRAPH_MAX_CONCURRENCY calls), or those run into the 429s the pacer is there to avoid.
CAPACITY, WINDOW = 120, 4.0


def directory_for(emu: EmulatorServer, concurrency: int) -> GraphDirectory:
    return GraphDirectory(Settings.from_env({
        "GRAPH_BASE_URL": emu.graph_url, "GRAPH_MAX_CONCURRENCY": str(concurrency),
        "LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"}))


async def disable_all(directory: GraphDirectory, user_ids: list[str]) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(directory.update_user(user_id, {"accountEnabled": False}) for user_id in user_ids))
    return time.perf_counter() - started


@pytest.mark.parametrize("concurrency", [8, 16])
async def test_a_throttled_batch_paces_itself_instead_of_running_into_429s(emu: EmulatorServer,
                                                                          control: EmulatorControl, concurrency: int):
    user_ids = control.seed_users(count=CALLS, userType="Guest", mail="p{n}@partner.example", accountEnabled=True)
    control.configure(throttle={"enabled": True, "capacity": CAPACITY, "windowSeconds": WINDOW})
    directory = directory_for(emu, concurrency)
    try:
        seconds = await disable_all(directory, user_ids)
    finally:
        await directory.close()
        calls = control.calls()
        control.configure(throttle={"enabled": False})

    assert calls["counts"]["PATCH /users/{id}"] == CALLS + calls["throttled"]
    assert calls["throttled"] <= 2 and calls["earlyRequests"] <= 2
    assert all(control.user(user_id)["accountEnabled"] is False for user_id in user_ids)
    least = (CALLS - CAPACITY) / (CAPACITY / WINDOW)  # the bucket starts full, then refills
    # never faster than the limit allows; not far slower (a loaded machine adds a second or two)
    assert least - 0.5 <= seconds <= least * 1.5 + 2


async def test_sign_in_blocked_in_batches_paces_itself_on_the_items_answers(emu: EmulatorServer,
                                                                           control: EmulatorControl):
    user_ids = control.seed_users(count=CALLS // 2, userType="Guest", mail="b{n}@partner.example",
                                  accountEnabled=True)
    control.configure(throttle={"enabled": True, "capacity": CAPACITY, "windowSeconds": WINDOW})
    directory = directory_for(emu, concurrency=8)
    try:
        await asyncio.gather(*(directory.block_sign_in(user_id) for user_id in user_ids))
    finally:
        await directory.close()
        calls = control.calls()
        control.configure(throttle={"enabled": False})

    assert calls["throttled"] <= 2 and calls["earlyRequests"] <= 2
    # each batch a disable and a revoke, 1 RU each; a throttled revoke retries the whole batch
    assert CALLS <= calls["resourceUnits"] <= CALLS + 2 * calls["throttled"]
    assert all(control.user(user_id)["accountEnabled"] is False for user_id in user_ids)


async def test_an_unthrottled_batch_is_never_paced(emu: EmulatorServer, control: EmulatorControl):
    user_ids = control.seed_users(count=40, userType="Guest", mail="u{n}@partner.example", accountEnabled=True)
    directory = directory_for(emu, concurrency=8)
    try:
        await disable_all(directory, user_ids)
        assert directory._pacer.rate is None and directory._pacer.take() == 0.0
    finally:
        await directory.close()

"""A guest's pending Graph writes go to the Directory together (`apply_changes`); the lag retry after an invitation
sends again only the writes Graph refused because it does not show a new object yet."""
from __future__ import annotations

from tests.api_client import call
from tests.support import GROUP_A, GROUP_B


def adds(fakes, group_id: str) -> int:
    return sum(1 for kind, what in fakes.directory.writes if kind == "add" and what.startswith(f"{group_id}/"))


def visible_after(fakes, group_id: str, attempts: int) -> None:
    """Graph shows `group_id` to member writes once it was refused `attempts` times."""
    directory, add_member = fakes.directory, fakes.directory.add_member

    async def lagging_add(group: str, user_id: str) -> None:
        try:
            await add_member(group, user_id)
        finally:
            if adds(fakes, group_id) >= attempts:
                directory.unreplicated.discard(group_id)

    directory.unreplicated.add(group_id)
    directory.add_member = lagging_add  # type: ignore[method-assign]


async def test_only_the_lagging_add_is_sent_again_until_graph_shows_it(fakes):
    visible_after(fakes, GROUP_B, attempts=2)
    status, body, _ = await call("invite_guest", "POST", "guests", {
        "email": "lag@fabrikam.com", "groups": [GROUP_A, GROUP_B], "attributes": {"companyName": "Fabrikam"}})
    assert status == 201 and sorted(body["groups"]) == sorted([GROUP_A, GROUP_B]) and body["pendingGroups"] == []
    assert (adds(fakes, GROUP_A), adds(fakes, GROUP_B)) == (1, 3)
    assert fakes.directory.writes.count(("update", body["id"])) == 1
    assert fakes.directory.users[body["id"]]["companyName"] == "Fabrikam"


async def test_an_add_still_lagging_at_the_deadline_stays_pending_and_the_others_are_made_once(fakes):
    fakes.directory.unreplicated.add(GROUP_B)
    status, body, _ = await call("invite_guest", "POST", "guests", {
        "email": "late@fabrikam.com", "groups": [GROUP_A, GROUP_B], "attributes": {"department": "Sales"}})
    assert status == 202 and body["groups"] == [GROUP_A] and body["pendingGroups"] == [GROUP_B]
    assert adds(fakes, GROUP_A) == 1 and adds(fakes, GROUP_B) >= 2  # retried until the lag deadline (0.3 s)
    assert fakes.directory.writes.count(("update", body["id"])) == 1
    assert "not visible yet" in fakes.store.guests[body["id"]].last_error

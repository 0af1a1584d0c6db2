"""The state predicates every layer asks instead of testing fields itself, at their boundaries."""
from __future__ import annotations

import pytest

from lifecycle.domain.model import GuestState
from tests.builders import guest

GROUP = "g1"


@pytest.mark.parametrize("state, tracked, removed, live", [
    (GuestState.INVITING, False, False, False),
    (GuestState.INVITED, True, False, True),
    (GuestState.ACTIVE, True, False, True),
    (GuestState.DISABLED, True, False, False),
    (GuestState.DELETED, False, True, False),
    (GuestState.PURGED, False, True, False),
])
def test_each_state_is_tracked_removed_or_live_as_named(state, tracked, removed, live):
    record = guest(state=state)
    assert (record.is_tracked, record.is_removed, record.is_live) == (tracked, removed, live)


def test_a_record_with_nothing_pending_has_no_work():
    record = guest()
    assert not record.has_pending_group_changes and not record.has_pending_graph_work
    assert not record.has_unfinished_work


@pytest.mark.parametrize("fields, group_changes", [
    ({"pending_groups": (GROUP,)}, True),
    ({"removing_groups": (GROUP,)}, True),
    ({"pending_attributes": {"department": "Sales"}}, False),
])
def test_one_pending_item_is_graph_work_and_only_groups_are_group_changes(fields, group_changes):
    record = guest(**fields)
    assert record.has_pending_graph_work and record.has_unfinished_work
    assert record.has_pending_group_changes is group_changes


def test_a_recorded_operation_is_unfinished_work_but_not_graph_work():
    record = guest(pending_action="disable:manual")
    assert record.has_unfinished_work and not record.has_pending_graph_work


def test_an_empty_attribute_write_is_no_graph_work():
    assert not guest(pending_attributes={}).has_pending_graph_work


@pytest.mark.parametrize("pending, asked, busy", [
    ("", "delete", False),
    ("delete", "delete", False),
    ("disable:manual", "delete", True),
    ("disable:manual", "disable:expiry", True),
])
def test_busy_with_another_operation_only_when_a_different_one_is_recorded(pending, asked, busy):
    assert guest(pending_action=pending).is_busy_with_other_than(asked) is busy

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.adapters.tables import codec
from lifecycle.domain.model import DisabledReason, Guest, GuestState, IndexKind
from lifecycle.domain.odata import odata_string
from lifecycle.domain.policy import AccessPolicy
from lifecycle.errors import Forbidden
from tests.builders import unlinked_claim

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_odata_quotes_are_doubled():
    assert odata_string("o'brien@x.com") == "'o''brien@x.com'"
    assert odata_string("''") == "''''''"
    assert odata_string("plain@x.com") == "'plain@x.com'"


def test_table_keys_never_contain_forbidden_characters():
    for email in ("a/b@x.com", "a#b?c\\d@x.com", "pct%41@x.com", "tab\t@x.com"):
        key = codec.claim_key(email)
        assert not set("/\\#?\t") & set(key)
        assert codec.decode_key(key[len(codec.CLAIM_PREFIX):]) == email


def test_index_keys_sort_in_time_order_and_bound_ranges():
    early = codec.index_key(IndexKind.EXPIRES, NOW, "b")
    late = codec.index_key(IndexKind.EXPIRES, NOW + timedelta(microseconds=1), "a")
    assert early < late
    low, high = codec.index_bounds(IndexKind.EXPIRES, NOW)
    assert low <= early < high and not (low <= late < high)


def test_guest_round_trips_through_an_entity():
    guest = Guest(id="00000000-0000-0000-0000-000000000001", email="a@x.com", display_name="A",
                  state=GuestState.DISABLED, disabled_reason=DisabledReason.EXPIRY, disabled_at=NOW,
                  groups=("g1",), pending_groups=("g2",), pending_attributes={"companyName": "X"},
                  expires_at=NOW, created_at=NOW, updated_at=NOW, pending_action="delete", pending_since=NOW)
    back = codec.entity_to_guest(codec.guest_to_entity(guest))
    assert back == guest


def test_index_rows_follow_the_state():
    live = Guest(id="x1", email="a@x.com", expires_at=NOW, invited_at=NOW, created_at=NOW, updated_at=NOW)
    kinds = {row.split("_")[1] for row in codec.index_rows(live)}
    assert kinds == {"exp", "inv"}
    disabled = live.disable(NOW, DisabledReason.EXPIRY)
    assert {row.split("_")[1] for row in codec.index_rows(disabled)} == {"dis"}
    manual = live.disable(NOW, DisabledReason.MANUAL)
    assert codec.index_rows(manual) == set()


def test_claim_round_trip_and_staleness():
    claim = unlinked_claim("a@x.com", owner="o", claimed_at=NOW)
    back = codec.entity_to_claim(codec.claim_to_entity(claim))
    assert back == claim and not back.is_linked
    assert claim.is_stale(NOW + timedelta(minutes=3), timedelta(minutes=2))
    assert not claim.is_stale(NOW + timedelta(minutes=1), timedelta(minutes=2))


def test_domain_policy_allow_and_block_lists():
    policy = AccessPolicy(allowed_domains=("fabrikam.com",), blocked_domains=("bad.fabrikam.com",))
    policy.check_email("a@fabrikam.com")
    policy.check_email("a@eu.fabrikam.com")
    for refused in ("a@bad.fabrikam.com", "a@contoso.com", "a@notfabrikam.com"):
        with pytest.raises(Forbidden):
            policy.check_email(refused)
    with pytest.raises(Forbidden) as raised:
        AccessPolicy(managed_groups=frozenset({"g1"})).check_groups(["g1", "g2"])
    assert raised.value.details == [{"groupId": "g2"}]


def test_retry_after_is_read_as_seconds_or_a_date():
    from email.utils import format_datetime

    from lifecycle.adapters.graph.errors import retry_after

    assert retry_after({"retry-after": "7"}) == 7 and retry_after({"retry-after": "0.2"}) == 1
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 28 <= retry_after({"retry-after": format_datetime(later, usegmt=True)}) <= 31

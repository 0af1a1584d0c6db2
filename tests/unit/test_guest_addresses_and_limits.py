"""Pure rules of "never disagree with Graph": a guest's own addresses (the one its userPrincipalName encodes
included), which user an address belongs to, the caps of a record and bounded event data, at their boundaries."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from lifecycle.domain import events
from lifecycle.domain.limits import MAX_GROUPS, MAX_SPONSORS, check_growth
from lifecycle.domain.model import Guest
from lifecycle.domain.policy import AccessPolicy, external_address, lookup_rank, own_addresses, owns_address
from lifecycle.errors import Forbidden, LimitExceeded
from lifecycle.ports import DirectoryUser
from tests.builders import guest


@pytest.mark.parametrize("name, address", [
    ("ann_fabrikam.com#EXT#@tenant.onmicrosoft.com", "ann@fabrikam.com"),
    ("ANN_Fabrikam.COM#ext#@tenant.onmicrosoft.com", "ann@fabrikam.com"),
    ("ann_lee_fabrikam.com#EXT#@tenant.onmicrosoft.com", "ann_lee@fabrikam.com"),  # the last _ is the @
    ("o'brien_sub.partner.example#EXT#@tenant.onmicrosoft.com", "o'brien@sub.partner.example"),
    ("ann@contoso.com", ""),  # a member, or a guest in one of the tenant's own domains: no external address
    ("#EXT#@tenant.onmicrosoft.com", ""),
    ("ann#EXT#@tenant.onmicrosoft.com", ""),
    ("ann_localhost#EXT#@tenant.onmicrosoft.com", ""),
    ("", ""),
])
def test_the_address_a_guests_user_principal_name_encodes(name, address):
    assert external_address(name) == address


def test_a_users_own_addresses_are_mail_other_mails_and_its_external_address_each_once():
    assert own_addresses("Ann@Fabrikam.com", ["ann@fabrikam.com", "", "old@x.example"],
                         "ann_upn.example#EXT#@t.onmicrosoft.com") == (
        "ann@fabrikam.com", "old@x.example", "ann@upn.example")
    assert own_addresses("", [], "ann@contoso.com") == ()


def test_the_lists_refuse_a_user_for_any_one_of_its_addresses():
    blocked = AccessPolicy(blocked_domains=("blocked.example",))
    allowed = AccessPolicy(allowed_domains=("fabrikam.com",))
    addresses = ("ann@fabrikam.com", "ann@sub.blocked.example")
    assert "ann@sub.blocked.example" in blocked.address_refusal(addresses)
    assert "ann@sub.blocked.example" in allowed.address_refusal(addresses)
    assert allowed.address_refusal(("ann@fabrikam.com", "b@mail.fabrikam.com")) == ""
    assert AccessPolicy().address_refusal(addresses) == ""
    with pytest.raises(Forbidden) as refused:
        blocked.check_user_addresses(addresses)
    assert refused.value.code == "DomainNotAllowed"


def test_an_address_is_owned_through_mail_upn_or_a_proxy_address_never_other_mails():
    kwargs = {"mail": "dave@contoso.com", "user_principal_name": "d@contoso.com", "proxy_addresses": ["Alias@C.com"]}
    assert all(owns_address(email, **kwargs) for email in ("DAVE@contoso.com", "d@contoso.com", "alias@c.com"))
    assert not owns_address("other@contoso.com", **kwargs)
    user = DirectoryUser(id="m", user_type="Member", other_mails=("listed@x.com",))
    assert not user.owns("listed@x.com") and user.lookup_rank("listed@x.com") == 2


def test_a_member_who_owns_an_address_ranks_before_a_guest_and_a_guest_before_a_member_listing_it():
    assert lookup_rank(is_guest=False, owns=True) < lookup_rank(is_guest=True, owns=True) \
        == lookup_rank(is_guest=True, owns=False) < lookup_rank(is_guest=False, owns=False)


# --- record caps ---------------------------------------------------------------------------------------------------
def test_a_record_holds_up_to_five_sponsors_and_not_six():
    five = guest(sponsors=tuple(f"s{n}" for n in range(MAX_SPONSORS)))
    check_growth(None, five)
    check_growth(guest(), five)
    with pytest.raises(LimitExceeded) as refused:
        check_growth(five, replace(five, sponsors=five.sponsors + ("s5",)))
    assert refused.value.status == 422 and refused.value.details[0] == {
        "limit": "sponsors", "max": 5, "wouldBe": 6, "guestId": five.id}


def test_a_record_over_a_cap_from_before_the_caps_may_change_without_adding_to_it():
    legacy = guest(sponsors=tuple(f"s{n}" for n in range(815)))
    check_growth(legacy, replace(legacy, display_name="changed"))
    check_growth(legacy, replace(legacy, sponsors=legacy.sponsors[:100]))
    with pytest.raises(LimitExceeded):
        check_growth(legacy, replace(legacy, sponsors=legacy.sponsors + ("one more",)))


def test_a_record_is_in_at_most_the_group_cap_counting_pending_and_removing_groups():
    ids = [f"g{n}" for n in range(MAX_GROUPS + 1)]
    full = guest(groups=tuple(ids[:MAX_GROUPS - 2]), pending_groups=(ids[-3],), removing_groups=(ids[-2],))
    check_growth(None, full)
    with pytest.raises(LimitExceeded):
        check_growth(full, full.want_groups(full.updated_at, (ids[-1],)))
    check_growth(full, full.want_groups(full.updated_at, (ids[0],)))  # already held: nothing added


def test_attributes_are_capped_in_number_and_length():
    with pytest.raises(LimitExceeded):
        check_growth(None, guest(pending_attributes={f"a{n}": "x" for n in range(33)}))
    with pytest.raises(LimitExceeded):
        check_growth(None, guest(attributes={"jobTitle": "x" * 1025}))
    check_growth(None, guest(attributes={"jobTitle": "x" * 1024}, pending_attributes={f"a{n}": "" for n in range(31)}))


# --- event data ----------------------------------------------------------------------------------------------------
def test_event_data_is_bounded_whatever_the_record_holds():
    record = Guest(id="g", email="a@fabrikam.com", display_name="x" * 10_000, sponsors=tuple(map(str, range(900))))
    event = events.guest_event(events.DISABLED, record, datetime.now(UTC), reason="r" * 50_000)
    assert len(event.data["displayName"]) == events.MAX_TEXT and len(event.data["reason"]) == events.MAX_TEXT
    assert event.data["sponsors"] == ["0", "1", "2", "3", "4"] and event.data["sponsorsOmitted"] == 895
    small = events.guest_event(events.DISABLED, Guest(id="g", email="a@b.c", sponsors=("s",)),
                               datetime.now(UTC))
    assert small.data["sponsors"] == ["s"] and "sponsorsOmitted" not in small.data

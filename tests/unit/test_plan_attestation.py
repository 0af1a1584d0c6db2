"""plan_expiry's attestation (ATTESTATION_DAYS) and sponsor presence (MIN_SPONSORS) rules, at their boundaries."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from lifecycle.domain.model import DisabledReason, Guest, GuestState
from lifecycle.domain.planning import ActionKind, ExpiryPolicy, Reason, due_actions, plan_expiry
from lifecycle.services import evidence
from tests.builders import active_guest

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
ATTEST = ExpiryPolicy(grace_days=30, notice_days=14, attestation_days=90)
SPONSORS = ExpiryPolicy(grace_days=30, notice_days=14, min_sponsors=2)
SAM, KIM = "11111111-0000-0000-0000-000000000001", "11111111-0000-0000-0000-000000000002"


def guest(n: int = 1, **changes) -> Guest:
    """An active guest far from expiry, sponsored by SAM: what the attestation and sponsor rules look at."""
    return active_guest(n, now=NOW, **{"expires_at": NOW + 1000 * DAY, "sponsors": (SAM,), **changes})


def planned(g: Guest, policy: ExpiryPolicy, now: datetime = NOW) -> list[tuple[str, str]]:
    return [(a.kind.value, a.reason.value) for a in due_actions(g, now, policy)]


def test_attestation_due_exactly_at_the_boundary_disables_unattested():
    actions = due_actions(guest(invited_at=NOW - 90 * DAY), NOW, ATTEST)
    assert [(a.kind, a.reason) for a in actions] == [(ActionKind.DISABLE, Reason.UNATTESTED)]
    assert actions[0].disabled_reason is DisabledReason.UNATTESTED and actions[0].due_at == NOW


def test_one_second_before_the_attestation_is_due_only_the_notice():
    assert planned(guest(invited_at=NOW - 90 * DAY + SECOND), ATTEST) == [("notify", "unattested")]


def test_attestation_notice_window_boundary():
    assert planned(guest(invited_at=NOW - 76 * DAY), ATTEST) == [("notify", "unattested")]
    assert planned(guest(invited_at=NOW - 76 * DAY + SECOND), ATTEST) == []


def test_attestation_notice_once_per_period():
    sent = guest(invited_at=NOW - 80 * DAY, attestation_notice_at=NOW - 2 * DAY)
    assert planned(sent, ATTEST) == []
    kept_then_due = guest(invited_at=NOW - 300 * DAY, attestation_notice_at=NOW - 100 * DAY,
                          attested_at=NOW - 80 * DAY)
    assert planned(kept_then_due, ATTEST) == [("notify", "unattested")]  # a new period: a new notice


def test_the_period_runs_from_the_last_attestation_then_the_adoption():
    assert planned(guest(invited_at=NOW - 200 * DAY, attested_at=NOW - 10 * DAY), ATTEST) == []
    assert planned(guest(invited_at=None, created_at=NOW - 200 * DAY, adopted_at=NOW - 10 * DAY), ATTEST) == []


def test_attestation_off_and_grace_after_unattested_disable():
    assert planned(guest(invited_at=NOW - 900 * DAY), replace(ATTEST, attestation_days=0)) == []
    disabled = guest(state=GuestState.DISABLED, disabled_at=NOW - 30 * DAY, disabled_reason=DisabledReason.UNATTESTED)
    assert planned(disabled, ATTEST) == [("delete", "grace-ended")]
    assert planned(replace(disabled, disabled_at=NOW - 30 * DAY + SECOND), ATTEST) == []


def test_min_sponsors_boundary():
    assert planned(guest(sponsors=(SAM, KIM)), SPONSORS) == []
    assert planned(guest(sponsors=(SAM,)), SPONSORS) == [("notify", "unsponsored")]
    assert planned(guest(sponsors=(SAM, SAM.upper())), SPONSORS) == [("notify", "unsponsored")]  # one, twice
    assert planned(guest(sponsors=()), replace(SPONSORS, min_sponsors=1)) == [("notify", "unsponsored")]
    assert planned(guest(sponsors=()), replace(SPONSORS, min_sponsors=0)) == []


def test_unsponsored_announced_once_then_disabled_after_the_grace():
    announced = guest(unsponsored_at=NOW - 30 * DAY + SECOND)
    assert planned(announced, SPONSORS) == []
    at_grace = guest(unsponsored_at=NOW - 30 * DAY)
    assert planned(at_grace, SPONSORS) == [("disable", "unsponsored")]
    assert due_actions(at_grace, NOW, SPONSORS)[0].disabled_reason is DisabledReason.UNSPONSORED
    assert planned(guest(sponsors=(SAM, KIM), unsponsored_at=NOW - 300 * DAY), SPONSORS) == []  # enough again


def test_new_rules_keep_the_exclusions_and_the_guard():
    due = [guest(n, invited_at=NOW - 100 * DAY) for n in range(1, 13)]
    plan = plan_expiry(due, NOW, replace(ATTEST, guard_min=10), tracked=20, excluded={due[0].id: "group"})
    assert plan.guard_tripped and plan.actions == [] and len(plan.held) == 11
    assert [(e.guest_id, e.reason) for e in plan.excluded] == [(due[0].id, Reason.UNATTESTED)]


def test_evidence_of_the_new_rules():
    g = guest(invited_at=NOW - 90 * DAY)
    action = due_actions(g, NOW, ATTEST)[0]
    found = evidence.for_action(action, g, None, ATTEST, "run")
    assert found["rule"] == "unattested" and found["dates"]["attestationDueAt"] == NOW.isoformat()
    assert found["policy"]["ATTESTATION_DAYS"] == 90
    notice = due_actions(guest(), NOW, SPONSORS)[0]
    found = evidence.for_action(notice, guest(), None, SPONSORS, "run")
    assert found["rule"] == "unsponsored-notice" and found["dates"]["sponsors"] == 1
    assert found["policy"]["MIN_SPONSORS"] == 2

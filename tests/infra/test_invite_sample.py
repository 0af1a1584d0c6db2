"""The invite sample mails a new guest its redemption link itself: Microsoft drops a custom message from app-only
invitations, so the organisation's own text has to travel in its own mail."""
from __future__ import annotations

import json

from tests.support import ROOT

SAMPLES = ROOT / "infra" / "samples"


def _actions(node: dict) -> dict:
    found = {}
    for name, action in (node.get("actions") or {}).items():
        found[name] = action
        found.update(_actions(action))
        found.update(_actions(action.get("else") or {}))
    return found


def test_a_new_guest_is_mailed_its_redeem_url_through_the_office365_connection():
    workflow = json.loads((SAMPLES / "invite-guest.workflow.json").read_text())
    mail = _actions(workflow)["Mail_the_invitation"]
    assert mail["inputs"]["path"] == "/v2/Mail" and "['office365']" in mail["inputs"]["host"]["connection"]["name"]
    assert "inviteRedeemUrl" in mail["inputs"]["body"]["Body"] and "message" in mail["inputs"]["body"]["Body"]
    assert "$connections" in workflow["parameters"] and "message" in workflow["triggers"]["manual"]["inputs"][
        "schema"]["properties"]
    bicep = (SAMPLES / "logicapps.bicep").read_text()
    invite = bicep[bicep.index("resource inviteWorkflow"):bicep.index("resource notifyWorkflow")]
    assert "'$connections'" in invite and "outlookConnection.id" in invite

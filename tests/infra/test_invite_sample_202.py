"""The invite sample on a 202: the API answers 202 while group adds are pending, with the invitation's
inviteRedeemUrl in that first answer only. The workflow keeps that answer (no automatic polling), mails the link on
201 and 202, keeps it out of the run history and never returns it to whoever triggered the workflow."""
from __future__ import annotations

import json
from typing import Any

from tests.support import ROOT

WORKFLOW = ROOT / "infra" / "samples" / "invite-guest.workflow.json"


def workflow() -> dict[str, Any]:
    return json.loads(WORKFLOW.read_text(encoding="utf-8"))


def test_the_first_answer_is_kept_so_its_redeem_url_is_not_lost_to_polling():
    invite = workflow()["actions"]["Invite_guest"]
    assert invite["operationOptions"] == "DisableAsyncPattern"  # else Logic Apps follows Location to a GET without it


def test_a_202_is_mailed_as_a_201_is():
    condition = workflow()["actions"]["Mail_a_new_guest_the_invitation"]["expression"]["and"]
    statuses = {branch["equals"][1] for branch in condition[0]["or"]}
    assert statuses == {201, 202} and all(b["equals"][0] == "@outputs('Invite_guest')?['statusCode']"
                                          for b in condition[0]["or"])
    assert "inviteRedeemUrl" in condition[1]["not"]["equals"][0]


def test_the_link_stays_out_of_the_run_history_and_the_callers_answer():
    actions = workflow()["actions"]
    assert set(actions["Invite_guest"]["runtimeConfiguration"]["secureData"]["properties"]) == {"inputs", "outputs"}
    mail = actions["Mail_a_new_guest_the_invitation"]["actions"]["Mail_the_invitation"]
    assert mail["runtimeConfiguration"]["secureData"]["properties"] == ["inputs"]
    reply = actions["Reply_with_the_guest"]["inputs"]["body"]
    assert reply == "@removeProperty(body('Invite_guest'), 'inviteRedeemUrl')"
    assert "inviteRedeemUrl" not in json.dumps(actions["Reply_with_the_error"]["inputs"])

"""The approval sample: on guest.expiring each sponsor gets an Office 365 approval mail; an approval extends."""
from __future__ import annotations

import json
from typing import Any

from tests.infra.bicep_model import INFRA, text

WORKFLOW = INFRA / "samples" / "approve-extension.workflow.json"


def workflow() -> dict[str, Any]:
    return json.loads(WORKFLOW.read_text(encoding="utf-8"))


def test_it_reads_the_events_queue_and_deletes_the_message_before_waiting_for_a_sponsor():
    doc = workflow()
    (trigger,) = doc["triggers"].values()
    assert trigger["splitOn"] and trigger["inputs"]["path"].endswith("/message_trigger")
    actions = doc["actions"]
    assert actions["Delete_message"]["runAfter"] == {"Parse_event": ["Succeeded"]}
    assert actions["Is_the_guest_expiring"]["runAfter"] == {"Delete_message": ["Succeeded"]}
    assert actions["Is_the_guest_expiring"]["expression"]["and"][0]["equals"][1] == "guest.expiring"


def test_each_sponsor_gets_an_approval_mail_and_an_approval_extends_once():
    loop = workflow()["actions"]["Is_the_guest_expiring"]["actions"]["For_each_sponsor"]
    assert "['sponsors']" in loop["foreach"]
    ask = loop["actions"]["Ask_the_sponsor"]
    assert ask["type"] == "ApiConnectionWebhook" and ask["inputs"]["path"] == "/approvalmail/$subscriptions"
    assert "['office365']" in ask["inputs"]["host"]["connection"]["name"]
    message = ask["inputs"]["body"]["Message"]
    approve = message["Options"].split(", ")[0]
    decision = loop["actions"]["If_approved"]
    assert decision["expression"]["and"][0]["equals"] == ["@body('Ask_the_sponsor')?['SelectedOption']", approve]
    extend = decision["actions"]["Extend_the_guest"]["inputs"]
    assert extend["method"] == "POST" and extend["uri"].endswith("/extend") and "/guests/" in extend["uri"]
    assert extend["headers"]["x-functions-key"] == "@parameters('functionKey')"
    assert "['id']" in extend["headers"]["Idempotency-Key"]  # one key per event: two approvals extend once
    assert extend["body"] == {"days": "@parameters('extendDays')"}
    assert workflow()["parameters"]["functionKey"]["type"] == "SecureString"


def test_it_is_deployed_with_the_samples():
    source = text(INFRA / "samples" / "logicapps.bicep")
    assert "loadJsonContent('approve-extension.workflow.json')" in source
    assert "approveWorkflow.identity.principalId" in source
    assert "logicApps.outputs.approveWorkflowName" in text(INFRA / "modules" / "samples.bicep")


def test_the_samples_never_compete_for_one_queue():
    """A queue hands each message to one reader: notify-sponsors alone reads the events queue and forwards the
    guest.expiring events of sponsored guests to the approvals queue, which the approval workflow alone reads."""
    source = text(INFRA / "samples" / "logicapps.bicep")
    approve = source[source.index("resource approveWorkflow"):source.index("resource queueReader")]
    assert "value: approvalsQueue.name" in approve and "value: queueName" not in approve
    reader = source[source.index("resource approveQueueReader"):]
    assert "scope: approvalsQueue" in reader.split("resource ")[1]
    sender = source[source.index("resource approvalsSender"):source.index("resource approveQueueReader")]
    assert "scope: approvalsQueue" in sender and "queueMessageSenderRoleId" in sender
    notify = json.loads((INFRA / "samples" / "notify-sponsors.workflow.json").read_text(encoding="utf-8"))
    forward = notify["actions"]["Forward_expiring_to_approvals"]
    put = forward["actions"]["Put_on_the_approvals_queue"]["inputs"]
    assert put["method"] == "post" and "parameters('approvalsQueueName')" in put["path"]
    assert put["body"] == "@triggerBody()?['MessageText']"
    assert forward["expression"]["and"][0]["equals"][1] == "guest.expiring"


def test_a_guest_without_a_sponsor_is_mailed_to_the_fallback():
    notify = json.loads((INFRA / "samples" / "notify-sponsors.workflow.json").read_text(encoding="utf-8"))
    fallback = notify["actions"]["Mail_the_fallback"]
    mail = fallback["actions"]["Mail_the_fallback_address"]["inputs"]["body"]
    assert mail["To"] == "@{body('Parse_event')?['data']?['fallbackNotify']}"
    assert {"equals": ["@length(coalesce(body('Parse_event')?['data']?['sponsors'], json('[]')))", 0]} in \
        fallback["expression"]["and"]
    assert notify["actions"]["Delete_message"]["runAfter"] == {"Mail_the_fallback": ["Succeeded"]}

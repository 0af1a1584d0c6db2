"""The alert rules: one action group mailing the address given, and scheduled query rules on the workspace for a
failed sweep, a tripped guard, no sweep in 26 hours and 5xx answers; each matches what the app writes (the report
line of lifecycle/services/run_record.py, the outcomes it logs) and host.json keeps that line out of sampling."""
from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from lifecycle.ports import RunRecord
from lifecycle.services.run_record import REPORT_EVENT, log_report, run_outcome
from tests.infra.bicep_model import (
    MAIN,
    ROOT,
    body,
    dotted,
    main_parameters_json,
    module_file,
    parse,
    resources_of_type,
    text,
)


@pytest.fixture(scope="module")
def alerts() -> dict[str, Any]:
    return parse(module_file("alerts.bicep"))


def rules(alerts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["key"]: rule for rule in alerts["variables"]["rules"]["value"]}


def test_the_action_group_mails_the_address_parameter(alerts):
    (group,) = resources_of_type(alerts, "Microsoft.Insights/actionGroups").values()
    receivers = body(group)["properties"]["emailReceivers"]
    assert "alertEmailAddress" in json.dumps(receivers) and "emailAddress" in json.dumps(receivers)
    main = parse(MAIN)
    (module,) = [m for m in main["modules"].values() if m["detail"]["path"] == "modules/alerts.bicep"]
    params = body(module)["params"]
    assert params["alertEmailAddress"] == "alertEmailAddress"
    assert main["parameters"]["alertEmailAddress"]["default"] == ""
    assert dotted(params["workspaceId"]) == "monitoring.outputs.logAnalyticsId"
    assert main_parameters_json()["parameters"]["alertEmailAddress"]["value"] == "${ALERT_EMAIL_ADDRESS=}"


def test_there_is_a_rule_for_each_thing_an_operator_must_hear_of(alerts):
    found = rules(alerts)
    assert set(found) == {"sweep-failed", "guard-tripped", "no-sweep", "http-5xx"}
    (rule,) = resources_of_type(alerts, "Microsoft.Insights/scheduledQueryRules").values()
    props = body(rule)["properties"]
    assert props["scopes"] == ["workspaceId"] and dotted(props["actions"]["actionGroups"][0]).endswith(".id")
    assert dotted(props["criteria"]["allOf"][0]["query"]) == "rule.query"


def test_the_sweep_rules_look_for_the_line_the_app_writes_with_the_outcomes_it_writes(alerts):
    found, report = rules(alerts), alerts["variables"]["report"]["value"]
    assert "extend report = parse_json(Message)" in report and f'tostring(report.event) == "{REPORT_EVENT}"' in report
    failed = run_outcome(False, False, [{"guestId": "-"}])
    tripped = run_outcome(False, True, [])
    assert f'== "{failed}"' in found["sweep-failed"]["query"] and f'== "{tripped}"' in found["guard-tripped"]["query"]
    assert "${report}" in found["sweep-failed"]["query"]


def test_the_report_line_the_app_writes_is_the_json_object_the_sweep_rules_parse(caplog):
    now = datetime(2026, 5, 1, tzinfo=UTC)
    run = RunRecord(run_id="r1", trigger="timer", started_at=now, finished_at=now, dry_run=False,
                    outcome=run_outcome(False, True, []), actor="expiry-sweep", report={"counts": {"disabled": 0}})
    with caplog.at_level(logging.INFO, logger="lifecycle"):
        log_report(run)
    (message,) = [record.getMessage() for record in caplog.records if REPORT_EVENT in record.getMessage()]
    report = json.loads(message)  # what `parse_json(Message)` of the rules reads
    assert report["event"] == REPORT_EVENT and report["outcome"] == "guard-tripped" and report["runId"] == "r1"
    assert report["counts"] == {"disabled": 0} and report["startedAt"] == now.isoformat()


def test_no_sweep_in_26_hours_counts_reports_of_the_last_26_hours_and_fires_on_none(alerts):
    rule = rules(alerts)["no-sweep"]
    assert "ago(26h)" in rule["query"] and rule["operator"] == "LessThan" and rule["threshold"] == 1
    assert rule["window"] == "P2D" and rule["frequency"] == "PT1H"


def test_5xx_answers_of_this_app_fire(alerts):
    rule = rules(alerts)["http-5xx"]
    assert re.search(r"toint\(ResultCode\) >= 500", rule["query"]) and "functionAppName" in rule["query"]
    assert rule["operator"] == "GreaterThan" and rule["threshold"] == 0


def test_host_json_keeps_the_report_and_the_requests_out_of_sampling():
    settings = json.loads(text(ROOT / "host.json"))["logging"]["applicationInsights"]["samplingSettings"]
    assert {"Trace", "Request"} <= set(settings["excludedTypes"].split(";"))


def test_the_emergency_stop_is_a_parameter_azd_keeps():
    main = parse(MAIN)
    assert main["parameters"]["expiryDryRun"]["type"] == "bool"
    assert main["variables"]["lifecycleSettings"]["value"]["EXPIRY_DRY_RUN"]["operator"]["operands"][
        "condition"] == "expiryDryRun"
    assert main_parameters_json()["parameters"]["expiryDryRun"]["value"] == "${EXPIRY_DRY_RUN=false}"

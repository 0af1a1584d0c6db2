"""`python -m lifecycle adopt` and `expire --dry-run` on in-memory fakes."""
from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from lifecycle.cli import main


def test_adopt_dry_run_then_real_from_the_command_line(fakes):
    guest = fakes.directory.add_user("cli@partner.example", state="Accepted")
    runner = CliRunner()
    dry = runner.invoke(main, ["adopt", "--dry-run", "--json", "--expires-in-days", "7"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["adopted"] == 1 and fakes.store.guests == {}
    real = runner.invoke(main, ["adopt", "--expires-in-days", "7"])
    assert real.exit_code == 0 and "adopted 1, already tracked 0" in real.output
    assert guest in fakes.store.guests


def test_adopt_refuses_a_bad_group_id(fakes):
    result = CliRunner().invoke(main, ["adopt", "--group", "not-a-guid"])
    assert result.exit_code == 2 and "not-a-guid" in result.output


def test_expire_dry_run_prints_the_plan(fakes):
    guest = fakes.directory.add_user("due@partner.example", state="Accepted")
    assert CliRunner().invoke(main, ["adopt", "--expires-in-days", "1"]).exit_code == 0
    fakes.clock.offset = timedelta(days=2)
    text = CliRunner().invoke(main, ["expire", "--dry-run"])
    assert text.exit_code == 0, text.output
    assert f"would disable {guest} <due@partner.example>: expired since" in text.output
    as_json = json.loads(CliRunner().invoke(main, ["expire", "--dry-run", "--json"]).output)
    assert [(a["guestId"], a["action"], a["reason"]) for a in as_json["plan"]["actions"]] == [
        (guest, "disable", "expired")]
    assert fakes.store.guests[guest].is_live

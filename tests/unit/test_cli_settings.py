"""The command line finds its settings as `func start` does (the environment, then local.settings.json's Values),
says in one line what to set when one is missing or invalid, and reaches its development commands by name only."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lifecycle import cli
from lifecycle.cli import load_local_settings, main


def settings_file(directory: Path, values: object) -> Path:
    path = directory / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")
    return path


def test_local_settings_fill_what_the_environment_leaves_empty_and_go_again(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TABLE_PREFIX", "fromenv")
    monkeypatch.setenv("MANAGED_GROUP_IDS", "")
    monkeypatch.delenv("INVITE_REDIRECT_URL", raising=False)
    path = settings_file(tmp_path, {"LIFECYCLE_TABLE_PREFIX": "fromfile", "MANAGED_GROUP_IDS": "g",
                                    "INVITE_REDIRECT_URL": "https://example.org", "GUEST_DEFAULT_TTL_DAYS": 30})
    restore = load_local_settings(path)
    assert os.environ["LIFECYCLE_TABLE_PREFIX"] == "fromenv"  # the environment wins, as with func start
    assert os.environ["MANAGED_GROUP_IDS"] == "g" and os.environ["INVITE_REDIRECT_URL"] == "https://example.org"
    assert os.environ["GUEST_DEFAULT_TTL_DAYS"] == "30"
    restore()
    assert "INVITE_REDIRECT_URL" not in os.environ and os.environ["LIFECYCLE_TABLE_PREFIX"] == "fromenv"


def test_no_local_settings_file_changes_nothing(tmp_path):
    before = dict(os.environ)
    load_local_settings(tmp_path / "local.settings.json")()
    assert dict(os.environ) == before


def test_an_unreadable_local_settings_file_is_one_line(tmp_path):
    (tmp_path / "local.settings.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(click.ClickException, match="cannot be read as local settings"):
        load_local_settings(tmp_path / "local.settings.json")
    settings_file(tmp_path, ["not", "an", "object"])
    with pytest.raises(click.ClickException, match="Values must be an object"):
        load_local_settings(tmp_path / "local.settings.json")


def test_the_command_reads_local_settings_and_names_the_setting_at_fault_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIFECYCLE_TABLE_PREFIX", raising=False)
    settings_file(tmp_path, {"LIFECYCLE_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
                             "LIFECYCLE_TABLE_PREFIX": "not-a-prefix"})
    result = CliRunner().invoke(main, ["export"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "LIFECYCLE_TABLE_PREFIX" in result.output and "local.settings.json" in result.output
    assert "LIFECYCLE_TABLE_PREFIX" not in os.environ  # taken out again when the command ended


def test_the_sweep_without_storage_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("LIFECYCLE_TABLES_CONNECTION_STRING", "LIFECYCLE_TABLES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRAPH_BASE_URL", "http://127.0.0.1:9/v1.0")
    result = CliRunner().invoke(main, ["expire", "--dry-run"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        "Error: set LIFECYCLE_TABLES_CONNECTION_STRING or LIFECYCLE_TABLES_ENDPOINT (in the Values of "
        "local.settings.json in this directory, or the environment; `make run` prints the settings of its local "
        "stack)"]


def test_a_development_command_is_listed_and_loaded_only_when_called(monkeypatch):
    listed = CliRunner().invoke(main, ["--help"])
    assert listed.exit_code == 0 and "Development commands" in listed.output and "serve" in listed.output
    monkeypatch.setitem(cli.DEVELOPMENT_COMMANDS, "serve", ("devserver_not_here.cli", "serve", "Serve."))
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 1 and "serve is a development command" in result.output
    assert len(result.output.strip().splitlines()) == 1

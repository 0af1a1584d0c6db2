"""docs/settings.md is generated from the settings the code reads, and a setting cannot go without a meaning."""
from __future__ import annotations

import os
import subprocess
import sys

from lifecycle import settings_doc
from lifecycle.config import SETTING_DEFAULTS, SETTING_DESCRIPTIONS
from tests.support import ROOT


def test_every_setting_has_a_meaning_and_every_meaning_a_setting():
    without = sorted(name for name in SETTING_DEFAULTS if not SETTING_DESCRIPTIONS.get(name, "").strip())
    assert not without, f"add what these settings mean to SETTING_DESCRIPTIONS in lifecycle/config.py: {without}"
    unknown = sorted(set(SETTING_DESCRIPTIONS) - set(SETTING_DEFAULTS))
    assert not unknown, f"SETTING_DESCRIPTIONS names settings the app no longer reads: {unknown}"


def test_the_committed_settings_page_is_what_the_code_generates():
    assert not settings_doc.stale(), "docs/settings.md is out of date: run `python -m lifecycle.settings_doc --write`"


def test_the_page_names_every_setting_with_its_default():
    page = settings_doc.PAGE.read_text(encoding="utf-8")
    for name, default in SETTING_DEFAULTS.items():
        row = next((line for line in page.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        assert (f"`{default}`" if default else "(none)") in row


def test_the_check_command_fails_on_a_stale_page(tmp_path, monkeypatch):
    page = tmp_path / "settings.md"
    page.write_text(settings_doc.render().replace("Settings", "Setting", 1), encoding="utf-8")
    monkeypatch.setattr(settings_doc, "PAGE", page)
    monkeypatch.setattr(settings_doc, "ROOT", tmp_path)
    assert settings_doc.main(["--check"]) == 1
    assert settings_doc.main(["--write"]) == 0 and settings_doc.main(["--check"]) == 0


def test_the_check_command_passes_on_the_committed_page():
    result = subprocess.run([sys.executable, "-m", "lifecycle.settings_doc", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr

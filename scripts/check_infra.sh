#!/usr/bin/env bash
# Offline static checks of infra/ with checkov (the Bicep CLI cannot be installed on these machines).
#
#   bash scripts/check_infra.sh
#
# Self-installing and idempotent: creates .venv-iac from requirements-iac.txt on first use (or when that file
# changes), then
#   1. lists every skipped check with its reason (infra/.checkov.yaml) and fails on a skip without one;
#   2. runs checkov on infra/ with the custom checks of infra/checkov_checks and fails on any failed check;
#   3. fails if checkov could not parse a file other than those using the `extension` keyword (its pinned
#      pycep-parser predates it; tests/infra parses every file with pycep-parser 0.7.1 instead);
#   4. proves the custom checks can fail: each must fail on tests/infra/fixtures and pass somewhere in infra/.
# The parse and contract tests of the Bicep are pytest tests in tests/infra (run by `make test`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv-iac"
REQUIREMENTS="$ROOT/requirements-iac.txt"
STAMP="$VENV/.requirements-iac.sha256"
PYTHON="${PYTHON:-python3}"

wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/checkov" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$wanted" ]]; then
    echo "check_infra: installing the IaC tools into .venv-iac (requirements-iac.txt) ..."
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    log="$(mktemp)"
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" 2>"$log"; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
    rm -f "$log"
    echo "$wanted" > "$STAMP"
fi

# Offline: no Prisma Cloud mapping download, no policy download, no upload.
export BC_SKIP_MAPPING=TRUE

exec "$VENV/bin/python" - "$ROOT" <<'PY'
"""Runs checkov and judges its JSON reports (see the header of scripts/check_infra.sh)."""
import json
import re
import subprocess
import sys
from pathlib import Path

root = Path(sys.argv[1])
config = root / "infra" / ".checkov.yaml"
checks_dir = root / "infra" / "checkov_checks"
fixtures = root / "tests" / "infra" / "fixtures"
checkov = [str(Path(sys.executable).parent / "checkov"), "--config-file", str(config), "-o", "json"]
problems: list[str] = []


def run(directory: Path) -> dict:
    """One checkov run on one directory (several -d in one run reuse the first directory's definitions)."""
    done = subprocess.run([*checkov, "-d", str(directory)], cwd=root, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1 = some check failed; anything else is checkov itself failing
        sys.stderr.write(done.stderr)
        raise SystemExit(f"check_infra: checkov exited with {done.returncode} on {directory}")
    decoder, text, at, reports = json.JSONDecoder(), done.stdout, 0, []
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        report, at = decoder.raw_decode(text, at)
        reports.extend(report if isinstance(report, list) else [report])
    bicep = [report for report in reports if report.get("check_type") == "bicep"]
    if len(bicep) != 1:
        raise SystemExit(f"check_infra: expected one bicep report for {directory}, got {len(bicep)}")
    return bicep[0]


def rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return path


# 1. Skips and their reasons -----------------------------------------------------------------------------------
skip_line = re.compile(r"^\s*-\s*(?P<id>CKV\w+)\s*(?:#\s*reason:\s*(?P<reason>.+))?$")
in_skips, skips = False, []
for line in config.read_text(encoding="utf-8").splitlines():
    if re.match(r"^[\w-]+:", line):
        in_skips = line.startswith("skip-check:")
        continue
    match = skip_line.match(line) if in_skips else None
    if match:
        skips.append((match["id"], (match["reason"] or "").strip()))
print(f"check_infra: {len(skips)} checkov checks skipped (infra/.checkov.yaml):")
for check_id, reason in skips:
    print(f"  {check_id:<14} {reason or '!! NO REASON GIVEN'}")
    if not reason:
        problems.append(f"{check_id} is skipped without a reason")

# 2. infra/ ----------------------------------------------------------------------------------------------------
report = run(root / "infra")
summary, results = report["summary"], report["results"]
print(f"check_infra: checkov {summary['checkov_version']} on infra/: Passed checks: {summary['passed']}, "
      f"Failed checks: {summary['failed']}, Skipped checks: {len(skips)} (by config), "
      f"Parsing errors: {summary['parsing_errors']}, resources: {summary['resource_count']}")
for failed in results["failed_checks"]:
    start, end = failed["file_line_range"]
    problems.append(f"{failed['check_id']} {failed['check_name']}\n      {failed['resource']} "
                    f"in {rel(failed['file_abs_path'])}:{start}-{end}")
if summary["resource_count"] == 0 or summary["passed"] == 0:
    problems.append("checkov scanned nothing in infra/")

# 3. Parsing errors: only the files checkov's pycep cannot read (the `extension` keyword) ------------------------
uses_extension = {
    str(path.relative_to(root))
    for path in (root / "infra").rglob("*.bicep")
    if re.search(r"^extension\s", path.read_text(encoding="utf-8"), re.MULTILINE)
}
unparsed = {rel(path) for path in results["parsing_errors"]}
for path in sorted(unparsed & uses_extension):
    print(f"check_infra: checkov cannot parse {path} (Bicep extension keyword; pycep-parser 0.7.1 parses it in "
          "tests/infra)")
for path in sorted(unparsed - uses_extension):
    problems.append(f"checkov could not parse {path}")

# 4. The custom checks can fail, and do pass ---------------------------------------------------------------------
custom_ids = sorted(set(re.findall(r'id="(CKV_GL_\d+)"', "".join(
    path.read_text(encoding="utf-8") for path in checks_dir.glob("*.py")))))
passed_in_infra = {check["check_id"] for check in results["passed_checks"]}
fixture_report = run(fixtures)
failed_in_fixture = {check["check_id"] for check in fixture_report["results"]["failed_checks"]}
for check_id in custom_ids:
    if check_id not in failed_in_fixture:
        problems.append(f"custom check {check_id} does not fail on tests/infra/fixtures (is it loaded?)")
    if check_id not in passed_in_infra:
        problems.append(f"custom check {check_id} passes nowhere in infra/")
if not custom_ids:
    problems.append(f"no custom check found in {checks_dir.relative_to(root)}")
elif not any(problem.startswith("custom check") for problem in problems):
    print(f"check_infra: custom checks {', '.join(custom_ids)} each pass in infra/ and fail on the insecure fixture")

if problems:
    print(f"check_infra: FAILED ({len(problems)} problems)")
    for problem in problems:
        print(f"  - {problem}")
    raise SystemExit(1)
print("check_infra: OK")
PY

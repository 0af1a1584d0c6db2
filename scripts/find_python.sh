#!/usr/bin/env bash
# Prints the path of a Python 3.13 interpreter, or explains on stderr that there is none and exits 1.
# Tried in order: $PYTHON, python3.13 on PATH, pyenv's 3.13 (PYENV_VERSION=3.13.x), python3.
set -uo pipefail

WANTED="3.13"
probe='import sys; print(sys.executable if sys.version_info[:2] == (3, 13) else "")'

candidates=()
[[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
candidates+=(python3.13)
if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E "^${WANTED//./\\.}(\.[0-9]+)?$" | sort -rV); do
        candidates+=("$(PYENV_VERSION="$version" pyenv which python3 2>/dev/null)")
    done
fi
candidates+=(python3)

for candidate in "${candidates[@]}"; do
    [[ -n "$candidate" ]] || continue
    found="$("$candidate" -c "$probe" 2>/dev/null)" || continue
    if [[ -n "$found" ]]; then
        echo "$found"
        exit 0
    fi
done

cat >&2 <<MESSAGE
No Python $WANTED found (tried: ${candidates[*]}).
Guest Lifecycle needs Python $WANTED: azure-functions 2.x requires it, and Azure runs the app on Python $WANTED with the
worker runtime pinned in requirements.txt. Install it (python.org, your package manager, or 'pyenv install $WANTED'),
or point make at it: make PYTHON=/path/to/python$WANTED test
MESSAGE
exit 1

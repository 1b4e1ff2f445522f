#!/usr/bin/env bash
# Make .venv with Python >= 3.12 and install confine with everything it needs.
# Idempotent: re-runs pip only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
stamp="$VENV/.confine-installed"
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
has_dolfinx() { "$1" -c 'import dolfinx' >/dev/null 2>&1; }

candidates=()
for c in "${PYTHON:-}" python3 python python3.13 python3.12; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && candidates+=("$(command -v "$c")")
done
if command -v pyenv >/dev/null 2>&1; then
    for d in "$(pyenv root)"/versions/3.1[2-9]*/bin/python3; do [ -x "$d" ] && candidates+=("$d"); done
fi
py=""
# A Python that already has dolfinx (conda, spack) wins: keep its dolfinx.
for c in "${candidates[@]}"; do if ok "$c" && has_dolfinx "$c"; then py=$c; break; fi; done
if [ -z "$py" ]; then
    for c in "${candidates[@]}"; do if ok "$c"; then py=$c; break; fi; done
fi
if [ -z "$py" ]; then
    echo "confine needs Python >= 3.12 and none was found on PATH or in pyenv." >&2
    echo "Install one (e.g. 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv')," >&2
    echo "or point PYTHON=/path/to/python3.12 at it, then run this again." >&2
    exit 1
fi
echo "setup: using $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"
if has_dolfinx "$py"; then
    "$py" -m venv --system-site-packages "$VENV"
    extras="dev"
    echo "setup: dolfinx found in that Python: using it, not the wheel"
else
    "$py" -m venv "$VENV"
    extras="dev,dolfinx-wheel"
fi
# (this machine's pip config lists local indexes that may be absent: drop that noise)
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
quiet "$VENV/bin/python" -m pip install --quiet --upgrade pip
quiet "$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
"$VENV/bin/python" -c 'import confine.env as e; e.import_dolfinx(); print("setup: dolfinx", e.versions()["dolfinx"])'
echo "$want" > "$stamp"

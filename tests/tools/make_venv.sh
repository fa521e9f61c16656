#!/usr/bin/env bash
# Create the project virtualenv with the newest Python this machine has (3.12+ gives
# ansible-core 2.21; 3.11 stops at 2.19) and install tests/requirements-dev.txt.
set -euo pipefail
venv=${1:-.venv}
pick_python() {
  for v in 3.14 3.13 3.12; do
    for cand in "python$v" "$HOME/.pyenv/versions/$v"*/bin/"python$v" /usr/local/bin/"python$v" /usr/bin/"python$v"; do
      if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        command -v "$cand"; return
      fi
    done
  done
  command -v python3
}
if [ ! -x "$venv/bin/python" ]; then
  py=$(pick_python)
  echo "creating $venv with $py ($("$py" --version 2>&1))"
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -c 'import ansible, msal, requests, cryptography, pytest' \
  || { echo "venv install failed" >&2; exit 1; }

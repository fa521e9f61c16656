#!/usr/bin/env bash
# ansible-test --venv downloads a pip bootstrap script from a host this network cannot reach.
# Place a stand-in in its cache that bootstraps pip from ensurepip and installs from PyPI.
set -euo pipefail
py=${1:?python}
version=$("$py" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
import inspect
src = inspect.getsource(get_venv_packages)
import re
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
target="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
mkdir -p "$(dirname "$target")"
cat > "$target" <<'PY'
# Stand-in for get-pip.py (written by tests/tools/ansible_test_pip_stub.sh): no download needed.
import subprocess, sys
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--upgrade"] + args)
PY
echo "$target"

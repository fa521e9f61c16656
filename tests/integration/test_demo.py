# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo` is the README's main command: prove it runs end to end (shorter sync wait)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import COLLECTION_ROOT


def test_demo_runs_end_to_end():
    env = dict(os.environ, D365_DEMO_SYNC_DELAY="2")
    env.pop("CURL_CA_BUNDLE", None)
    result = subprocess.run([sys.executable, os.path.join(COLLECTION_ROOT, "tests", "demo", "run_demo.py")],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    out = result.stdout
    assert result.returncode == 0, out[-8000:] + result.stderr[-3000:]
    assert "accessmode 4 (Non-interactive), enabled, roles: System Administrator" in out
    assert "licences held none" in out
    assert "0 writes" in out and "0 write requests" in out
    assert "main.aspx -> 403" in out and "WhoAmI() -> 200" in out

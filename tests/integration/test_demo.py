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


def test_demo_app_moves_the_user_to_an_application_user():
    env = dict(os.environ)
    env.pop("CURL_CA_BUNDLE", None)
    result = subprocess.run([sys.executable, os.path.join(COLLECTION_ROOT, "tests", "demo", "run_demo_app.py")],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    out = result.stdout
    assert result.returncode == 0, out[-8000:] + result.stderr[-3000:]
    assert out.count("non-interactive users 1 of 7; application user: none") == 2
    assert out.count("non-interactive users 0 of 7; application user:") == 2
    assert out.count("enabled, roles: System Administrator, System Customizer") >= 2
    assert "dry run: " in out and "deleted (restorable for 30 days)" in out
    assert out.count(" 0 write requests") == 2

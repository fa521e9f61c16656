# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs every integration target (tests/integration/targets/<name>/tasks/main.yml)."""

from __future__ import annotations

import os

import pytest

TARGETS_DIR = os.path.join(os.path.dirname(__file__), "targets")
TARGETS = sorted(name for name in os.listdir(TARGETS_DIR)
                 if os.path.isfile(os.path.join(TARGETS_DIR, name, "tasks", "main.yml")))


@pytest.mark.parametrize("target", TARGETS)
def test_target(target, run_target):
    result = run_target(target)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (target, result.stdout[-20000:], result.stderr[-5000:])

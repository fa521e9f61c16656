# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault soak: the role_faults target (faults on every service) with ten more seeds."""

from __future__ import annotations

import pytest

SEEDS = range(101, 111)


@pytest.mark.parametrize("seed", SEEDS)
def test_role_converges_under_faults(seed, run_target):
    result = run_target("role_faults", extra_vars={"fault_seed": seed})
    assert result.returncode == 0, "seed %d failed:\n%s\n%s" % (seed, result.stdout[-20000:], result.stderr[-5000:])

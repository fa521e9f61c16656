# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from email.utils import formatdate

import pytest

from ansible_collections.d365.identity.plugins.module_utils._transport import retry as _retry


@pytest.mark.parametrize("value, expected", [("2.128", 2.128), ("7", 7.0), (" 0 ", 0.0), ("-3", 0.0)])
def test_retry_after_seconds_including_graph_fractional(value, expected):
    assert _retry.parse_retry_after(value) == pytest.approx(expected)


def test_retry_after_http_date():
    now = 1_700_000_000.0
    header = formatdate(now + 30, usegmt=True)
    assert _retry.parse_retry_after(header, now=now) == pytest.approx(30, abs=1)


@pytest.mark.parametrize("value", [None, "soon", "", "nan"])
def test_retry_after_unusable(value):
    assert _retry.parse_retry_after(value) is None


def test_backoff_grows_with_jitter_and_is_capped():
    low = [_retry.backoff_delay(n, rng=lambda: 0.0) for n in range(10)]
    high = [_retry.backoff_delay(n, rng=lambda: 1.0) for n in range(10)]
    assert low[:4] == [0.5, 1.0, 2.0, 4.0]
    assert high[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(high) == _retry.BACKOFF_CAP


def test_budget_stops_at_max_retries():
    slept = []
    budget = _retry.RetryBudget(2, 1000, sleep=slept.append)
    assert budget.wait(1) and budget.wait(1)
    assert not budget.wait(1)
    assert slept == [1, 1]


def test_budget_stops_at_total_wait_cap():
    slept = []
    budget = _retry.RetryBudget(10, 5, sleep=slept.append)
    assert budget.wait(3)
    assert not budget.wait(3)  # 6 s would pass the 5 s cap
    assert slept == [3]

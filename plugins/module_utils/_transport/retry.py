# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Retry timing shared by the HTTP core and the token provider (https://learn.microsoft.com/graph/throttling,
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits)."""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime

BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header, or None.

    Graph sends fractional seconds ("2.128"), Dataverse whole seconds, others an HTTP date.
    """
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(attempt, rng=random.random):
    """Exponential backoff with 'equal jitter': half fixed, half random, capped."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt))
    return ceiling / 2 + rng() * ceiling / 2


class RetryBudget:
    """Bounds retries by count and by total time slept."""

    def __init__(self, max_retries, max_total_wait, sleep=time.sleep):
        self.max_retries = max_retries
        self.max_total_wait = max_total_wait
        self.sleep = sleep
        self.attempt = 0
        self.waited = 0.0

    def wait(self, retry_after=None):
        """Sleep before the next try; False when the budget is spent (caller raises)."""
        if self.attempt >= self.max_retries:
            return False
        delay = retry_after if retry_after is not None else backoff_delay(self.attempt)
        if self.waited + delay > self.max_total_wait:
            return False
        self.attempt += 1
        self.waited += delay
        self.sleep(delay)
        return True

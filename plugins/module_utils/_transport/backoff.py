# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""A Retry-After one process got holds back the other processes of the same client on this machine.

Graph and Dataverse count their limits per client (Dataverse: per user, per web server), so after a 429 the
other forks of a run would only be refused too, and add to the count
(https://learn.microsoft.com/power-apps/developer/data-platform/api-limits,
https://learn.microsoft.com/graph/throttling). The wait is kept next to the client's token cache file, one
file per service host; processes on other machines (AWX job slices) keep only their own.
"""

from __future__ import annotations

import time

MAX_SHARED_WAIT = 60.0  # a Retry-After longer than this is the caller's own retry budget's business


class SharedBackoff:
    def __init__(self, store, sleep=time.sleep, clock=time.time):
        self.store, self.sleep, self.clock = store, sleep, clock

    def wait(self, host):
        """Sleep while another process's Retry-After for host runs; the seconds slept (at most MAX_SHARED_WAIT).

        Read again after each sleep: a 429 another process got meanwhile may have moved the end later."""
        slept = 0.0
        while slept < MAX_SHARED_WAIT:
            delay = min(self.store.backoff_until(host) - self.clock(), MAX_SHARED_WAIT - slept)
            if delay <= 0:
                break
            self.sleep(delay)
            slept += delay
        return slept

    def note(self, host, seconds):
        """Record a Retry-After for host; longer than MAX_SHARED_WAIT, each process's own retry budget decides."""
        if seconds:
            self.store.hold_back(host, self.clock() + min(seconds, MAX_SHARED_WAIT))

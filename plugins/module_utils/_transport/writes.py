# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Write and verify: the one retry loop for writes whose outcome can be unknown.

A write that got no answer, or a 5xx, may or may not have been applied; sending it again blindly
could create a second user or fail on a conflict of its own making. So after such an error the
caller's check re-reads and decides: done (return its value), or not done (send again), within a
bounded number of attempts. Any other error is raised at once.
"""

from __future__ import annotations

from .._errors import D365Error

WRITE_ATTEMPTS = 3
NOT_DONE = object()  # what check() returns when the write must be sent again


def write_and_verify(send, check, attempts=WRITE_ATTEMPTS):
    """send()'s value; after an outcome-unknown error, check()'s value unless it says NOT_DONE."""
    last = None
    for _attempt in range(attempts):
        try:
            return send()
        except D365Error as error:
            if not error.outcome_unknown:
                raise
            last = error
        verdict = check()
        if verdict is not NOT_DONE:
            return verdict
    raise last

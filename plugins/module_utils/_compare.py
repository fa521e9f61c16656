# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Pure desired-vs-current helpers: every module's 'changed' and diff come from here."""

from __future__ import annotations


def _norm(value, casefold):
    if casefold and isinstance(value, str):
        return value.casefold()
    if isinstance(value, (list, tuple, set)):
        return frozenset(_norm(v, casefold) for v in value)
    return value


def compute_patch(desired, current, casefold=()):
    """Minimal PATCH body: keys whose desired value is set (not None) and differs.

    casefold names keys compared case-insensitively (UPNs, mail); lists compare as sets.
    """
    current = current or {}
    patch = {}
    for key, want in desired.items():
        if want is None:
            continue
        if _norm(want, key in casefold) != _norm(current.get(key), key in casefold):
            patch[key] = want
    return patch


def list_delta(current, add=(), remove=(), exact=None, key=lambda item: str(item).casefold()):
    """(to_add, to_remove) for add/remove/set list semantics; exact (set) wins, [] clears.

    Items keep their first spelling; membership is decided on key(item).
    """
    have = {key(item): item for item in current}
    if exact is not None:
        want = {key(item): item for item in exact}
        return ([item for k, item in want.items() if k not in have],
                [item for k, item in have.items() if k not in want])
    to_add, seen = [], set()
    for item in add or ():
        k = key(item)
        if k not in have and k not in seen:
            to_add.append(item)
            seen.add(k)
    removing = {key(item) for item in remove or ()}
    return to_add, [item for k, item in have.items() if k in removing]


def diff_for(before, after, keys):
    """Ansible diff dict limited to keys (never pass a secret key)."""
    before = before or {}
    after = after or {}
    return {
        "before": {k: before.get(k) for k in keys if k in before or k in after},
        "after": {k: after.get(k) for k in keys if k in before or k in after},
    }


class ChangeTracker:
    """One source for a task's changed and its diff (the role of community.docker's DifferenceTracker).

    before/after are the shown values ({} for an object that does not exist); note() records a change
    that must not be shown (a password) or has no value of its own (taking ownership).
    """

    def __init__(self, before, after, keys):
        self.before, self.after, self.keys = before or {}, after or {}, list(keys)
        self.notes = []

    def note(self, what):
        self.notes.append(what)

    @property
    def changed(self):
        return bool(self.notes) or bool(self.before) != bool(self.after) or any(
            self.before.get(k) != self.after.get(k) for k in self.keys)

    def diff(self):
        if not self.before or not self.after:  # created or deleted: the whole object on one side
            side = self.after or self.before
            shown = {k: side[k] for k in self.keys if k in side}
            return {"before": {} if self.after else shown, "after": shown if self.after else {}}
        return diff_for(self.before, self.after, self.keys)

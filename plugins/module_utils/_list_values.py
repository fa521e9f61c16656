# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""One vocabulary for list options: O(x.add), O(x.remove), O(x.set), as microsoft.ad documents it
(https://docs.ansible.com/ansible/latest/collections/microsoft/ad/docsite/guide_list_values.html):
set wins over add and remove, set: [] clears.

Until 1.0.0 a plain list (with the module's state and, for roles, purge) still works and warns.
The option is type raw for that one release only, so its dict is validated here.
"""

from __future__ import annotations

from ansible.module_utils.common.validation import check_type_list

from ._errors import ConfigError

ACTIONS = ("add", "remove", "set")
REMOVED_IN = "1.0.0"
COLLECTION = "d365.identity"


def spec(**extra):
    """Argument spec of a list-values option (what its DOCUMENTATION describes)."""
    item = {"type": "list", "elements": "str"}
    return dict({"type": "raw", "options": {action: dict(item) for action in ACTIONS}}, **extra)


def _strings(option, action, value):
    try:
        items = check_type_list(value)
    except TypeError:
        raise ConfigError("%s.%s must be a list of strings, got %r." % (option, action, value)) from None
    if any(isinstance(item, (dict, list)) for item in items):
        raise ConfigError("%s.%s must be a list of strings, got %r." % (option, action, value))
    return [str(item).strip() for item in items if str(item).strip()]


class ListValues:
    """What a list option asks for: add, remove and set (None = not managed)."""

    def __init__(self, add=(), remove=(), set_=None):
        self.add, self.remove, self.set = list(add), list(remove), set_

    @property
    def wanted(self):
        """Every value that must resolve against the service (to check before writing)."""
        return list(self.set) if self.set is not None else self.add + self.remove

    def __bool__(self):
        return bool(self.add or self.remove or self.set is not None)


def read(module, option, legacy_state="state", legacy_purge=None):
    """ListValues for module.params[option]; a plain list is the deprecated 0.x spelling.

    The 0.x spelling: the list is added with state=present (set instead with purge=true) and removed
    with state=absent. state and purge are only meaningful with it.
    """
    params = module.params
    value = params.get(option)
    state = params.get(legacy_state) if legacy_state else None
    purge = params.get(legacy_purge) if legacy_purge else None
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(ACTIONS))
        if unknown:
            raise ConfigError("%s accepts the keys add, remove and set, not %s." % (option, ", ".join(unknown)))
        used = [name for name, given in ((legacy_state, state), (legacy_purge, purge)) if given is not None]
        if used:
            raise ConfigError("%s applies only to the deprecated list spelling of %s; with %s: {add, remove, set} "
                              "leave it out." % (" and ".join(used), option, option))
        return ListValues(_strings(option, "add", value.get("add") or []),
                          _strings(option, "remove", value.get("remove") or []),
                          None if value.get("set") is None else _strings(option, "set", value["set"]))
    if value is None:
        if state is not None or purge:
            _warn(module, option, state, purge)
        return ListValues(set_=[] if (purge and state != "absent") else None)
    items = _strings(option, "list", value)
    _warn(module, option, state, purge)
    if state == "absent":
        return ListValues(remove=items)
    if purge:
        return ListValues(set_=items)
    return ListValues(add=items)


def _warn(module, option, state, purge):
    action = "remove" if state == "absent" else ("set" if purge else "add")
    module.deprecate("A plain list for %s (with state%s) is deprecated: write %s: {%s: [...]} (add, remove or set; "
                     "set wins, set: [] clears)." % (option, " and purge" if purge is not None else "", option, action),
                     version=REMOVED_IN, collection_name=COLLECTION)

# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""One way to name a user in every module: O(identity), a UPN or an object id, as microsoft.ad's
identity option does. The 0.x option names stay as deprecated aliases until 1.0.0."""

from __future__ import annotations

from ._errors import ConfigError
from ._odata import is_guid

REMOVED_IN = "1.0.0"
COLLECTION = "d365.identity"


def spec(deprecated=(), required=True):
    """identity option; deprecated: the old option names, now aliases that warn."""
    option = {"type": "str", "required": required}
    if deprecated:
        option["aliases"] = list(deprecated)
        option["deprecated_aliases"] = [{"name": name, "version": REMOVED_IN, "collection_name": COLLECTION}
                                        for name in deprecated]
    return {"identity": option}


def upn_of(identity):
    """The UPN when identity is one, else None (an object id)."""
    value = (identity or "").strip()
    return None if is_guid(value) else value


def check_single(params, deprecated):
    """Two 0.x option names given for one identity are a conflict, not a choice (Ansible would only
    warn and keep the last); ConfigError naming them."""
    given = [name for name in deprecated if params.get(name) is not None]
    if len(given) > 1:
        raise ConfigError("%s are mutually exclusive: they all name the user. Fix: give one identity." %
                          " and ".join(given))

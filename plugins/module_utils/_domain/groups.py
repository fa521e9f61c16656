# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Entra groups named by object id or display name (several groups may share a name)."""

from __future__ import annotations

from .._odata import GUID_RE
from .._errors import ConfigError, NotFoundError


def find_group(client, group):
    """{'id', 'displayName'} of the one group the text names; ConfigError names the fix."""
    if GUID_RE.match(group):
        try:
            obj = client.get_group(group)
            return {"id": obj.get("id"), "displayName": obj.get("displayName")}
        except NotFoundError:
            raise ConfigError("Group %s was not found in Microsoft Entra ID: check the object id, or give the group's "
                              "exact displayName." % group) from None
    found = client.find_groups_by_name(group)
    if not found:
        raise ConfigError("Group %r was not found in Microsoft Entra ID: give its exact displayName or its object id "
                          "(Entra admin center > Groups)." % group)
    if len(found) > 1:
        raise ConfigError("%d groups are named %r (ids %s): set group to the object id of the one to manage."
                          % (len(found), group, ", ".join(g["id"] for g in found)))
    return {"id": found[0].get("id"), "displayName": found[0].get("displayName")}


def known_group_for(known, group):
    """{'id', 'displayName'} of a group an earlier task read (known), when it is the group the text names; else None
    (then the group is read). Pure: no network access."""
    group_id, name = str((known or {}).get("id") or ""), str((known or {}).get("displayName") or "")
    if not (GUID_RE.match(group_id) and name) or group.strip().casefold() not in (group_id.casefold(), name.casefold()):
        return None
    return {"id": group_id, "displayName": name}

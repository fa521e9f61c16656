# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The same security roles in another business unit.

A role of the root business unit is copied into every business unit with its own role id, so a role held
in one business unit maps to the copy in another by its role template id; a custom role has no template
and maps by name (https://learn.microsoft.com/power-apps/developer/data-platform/security-roles).
Pure functions: no network access.
"""

from __future__ import annotations

from .systemusers import match_roles


def role_key(role):
    """What identifies a role across business units: its template id, else its name."""
    return role.get("roletemplateid") or role.get("name")


def map_roles(held, available):
    """Map the roles a user holds (as systemuser_dict returns them) onto the roles of one business unit.

    Returns (mapping, unmapped): mapping is one dict per held role with the target role's id and name and how
    it matched; unmapped lists the held roles without a counterpart there.
    """
    mapping, unmapped = [], []
    for role in held:
        matched, unknown = match_roles([role_key(role)], available)
        if unknown:
            unmapped.append(role)
            continue
        mapping.append({"name": role.get("name"), "roleid": role.get("roleid"),
                        "businessunitid": role.get("businessunitid"),
                        "by": "template" if role.get("roletemplateid") else "name",
                        "target_roleid": matched[0]["roleid"], "target_name": matched[0].get("name"),
                        "target_businessunitid": matched[0].get("_businessunitid_value")})
    return mapping, unmapped

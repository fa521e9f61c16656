# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Business units named by the user: by name or id, or the root one (the one without a parent)
(https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/businessunit)."""

from __future__ import annotations

from .._errors import ConfigError
from .._odata import guid, is_guid, quote


def resolve_business_unit(client, value):
    """{businessunitid, name} of a business unit given by name or id; None: the root business unit."""
    text = (value or "").strip()
    if not text:
        found = client.business_units("parentbusinessunitid eq null")
    elif is_guid(text):
        found = client.business_units("businessunitid eq %s" % guid(text, "business_unit"))
    else:
        found = client.business_units("name eq %s" % quote(text))
    if len(found) == 1:
        return {"businessunitid": found[0]["businessunitid"].lower(), "name": found[0].get("name")}
    if len(found) > 1:
        raise ConfigError("Business unit %r matches %d business units in %s (%s). Fix: give its id." % (
            text, len(found), client.environment_url, ", ".join(b["businessunitid"] for b in found)))
    names = sorted((b.get("name") or b["businessunitid"] for b in client.business_units()),
                   key=str.casefold)
    raise ConfigError("Business unit %r not found in %s. Business units there: %s. Fix: use one of these names or "
                      "a business unit id." % (text or "(root)", client.environment_url, ", ".join(names) or "none"))


def business_unit_name(client, business_unit_id, known=None):
    """The name of a business unit, from known ({businessunitid, name}) when it is that one, else one read."""
    if known and known["businessunitid"] == (business_unit_id or "").lower():
        return known["name"]
    rows = client.business_units("businessunitid eq %s" % guid(business_unit_id, "businessunitid"))
    return rows[0].get("name") if rows else None

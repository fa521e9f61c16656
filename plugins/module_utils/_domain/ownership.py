# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Which Entra users the collection owns: a mark in one of the user's extension attributes.

The mark is written in the same POST /users that creates the user, so no crash can leave an
unmarked user of the collection's own. onPremisesExtensionAttributes are settable on create,
filterable and available in every cloud, but read-only for users synced from on-premises AD
(https://learn.microsoft.com/graph/api/resources/onpremisesextensionattributes). Organisations
use the same fifteen attributes for their own data (Exchange custom attributes), so a value that
is not ours is never overwritten. Pure functions: no network access.
"""

from __future__ import annotations

from .._errors import ConfigError

MARK = "d365.identity"
DEFAULT_ATTRIBUTE = 15
ATTRIBUTES = "onPremisesExtensionAttributes"
ARGSPEC = {
    "owner_attribute": {"type": "int", "default": DEFAULT_ATTRIBUTE, "choices": list(range(1, 16))},
    "adopt": {"type": "bool", "default": False},
}
SELECT = (ATTRIBUTES, "onPremisesSyncEnabled")


def attribute_name(number):
    return "extensionAttribute%d" % int(number)


def mark_value(user, number):
    """The attribute's current value, or None (also when Graph did not return the attributes)."""
    return ((user or {}).get(ATTRIBUTES) or {}).get(attribute_name(number))


def is_owned(user, number):
    return mark_value(user, number) == MARK


def mark_body(number):
    """The fragment of a POST or PATCH /users body that writes the mark; other attributes are kept."""
    return {ATTRIBUTES: {attribute_name(number): MARK}}


def adoption_problem(user, number):
    """Why the collection cannot mark this user as its own, or None when it can."""
    upn = (user or {}).get("userPrincipalName") or (user or {}).get("id")
    current = mark_value(user, number)
    if current not in (None, "", MARK):
        return ("%s.%s of %s already holds %r, which the collection never overwrites. Fix: choose a free "
                "attribute with owner_attribute (role variable non_interactive_user_owner_attribute)."
                % (ATTRIBUTES, attribute_name(number), upn, current))
    if (user or {}).get("onPremisesSyncEnabled"):
        return ("%s is synchronised from on-premises Active Directory, so its extension attributes are read-only in "
                "Microsoft Graph and the collection cannot mark it as its own. Fix: use a cloud-only user "
                "(another UPN)." % upn)
    return None


def require_owned(user, number, adopt, action):
    """ConfigError unless the collection owns the user or the operator said adopt.

    Returns True when the user must be marked (adopt of an unmarked user).
    """
    if is_owned(user, number):
        return False
    upn = (user or {}).get("userPrincipalName") or (user or {}).get("id")
    if not adopt:
        raise ConfigError(
            "%s exists and was not created by d365.identity (%s.%s is not %r), so the collection will not %s it. "
            "Fix: if this account is meant to be managed here, set adopt: true (role variable "
            "non_interactive_user_adopt: true) to mark it and manage it from then on; otherwise choose another "
            "UPN as identity." % (upn, ATTRIBUTES, attribute_name(number), MARK, action))
    problem = adoption_problem(user, number)
    if problem:
        raise ConfigError(problem)
    return True

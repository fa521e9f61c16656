# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The read phase shared by the planning modules (non_interactive_user_info, application_user_info):
problems collected in one list (reported once, before the first write), the fix for an environment
that does not answer, and the check that the client may change users there.
"""

from __future__ import annotations

from .._clients.dataverse import SYSTEM_ADMINISTRATOR_TEMPLATE
from .._errors import AuthError, PermissionDeniedError


class Problems(list):
    """Problems in the order found, each once (one failing token shows up in every read)."""

    def add(self, text):
        if text not in self:
            self.append(text)

    def from_error(self, where, error, fix):
        message = error.message.rstrip(".")
        self.add("%s: %s. Fix: %s" % (where, message, fix) if "Fix:" not in message else "%s: %s." % (where, message))


def environment_fix(error):
    if isinstance(error, AuthError):
        return ("check the environment URL: a token for it was refused, so it is not an environment of this tenant "
                "(a typo, or another tenant's environment)")
    if isinstance(error, PermissionDeniedError):
        return "create an application user for the client with the System Administrator role in this environment"
    return "check the environment URL (Power Platform admin center > Environment > Environment URL)"


def check_caller_is_admin(dataverse, who, problems):
    """Granting roles and changing access modes need the client's own application user to be System Administrator
    (https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes, 0x80048d2f)."""
    caller_roles = dataverse.user_roles(who["UserId"])
    if not any((r.get("_roletemplateid_value") or "").lower() == SYSTEM_ADMINISTRATOR_TEMPLATE for r in caller_roles):
        problems.add("%s: the client's application user lacks System Administrator, which changing access modes "
                     "and granting roles needs. Fix: give it that role (Power Platform admin center > Environment "
                     "> Settings > Application users)." % dataverse.environment_url)

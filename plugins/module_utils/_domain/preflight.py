# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The read phase shared by the planning modules (non_interactive_user_info, application_user_info):
problems collected in one list (reported once, before the first write), the fix for an environment
that does not answer, the check that the client may change users there, and reads of several
environments at once.
"""

from __future__ import annotations

import threading

from .._clients.dataverse import SYSTEM_ADMINISTRATOR_TEMPLATE
from .._errors import AuthError, D365Error, PermissionDeniedError
from .._odata import guid, is_guid
from .systemusers import ROLES_NAV

CALLER_ROLES = "%s($select=roleid,_roletemplateid_value)" % ROLES_NAV


class Problems(list):
    """Problems in the order found, each once (one failing token shows up in every read)."""

    def add(self, text):
        if text not in self:
            self.append(text)

    def from_error(self, where, error, fix):
        message = error.message.rstrip(".")
        self.add("%s: %s. Fix: %s" % (where, message, fix) if "Fix:" not in message else "%s: %s." % (where, message))


def at_once(calls):
    """Run the calls (functions without arguments, each on its own HTTP session) at the same time, one thread each,
    and return their results in order: a read phase then waits for the slowest environment, not for the sum of them.
    Once all have ended, the exception of the first call (in list order) that raised one is raised."""
    results, errors = [None] * len(calls), [None] * len(calls)

    def run(index):
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            errors[index] = exc  # raised below, in the calling thread

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(1, len(calls))]
    for thread in threads:
        thread.start()
    if calls:
        run(0)  # the first one in this thread
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results


def fail_on_problems(module, problems, result):
    """End the task with every problem found, numbered, and the result read so far (unless fail_on_problems is off)."""
    if problems and module.params["fail_on_problems"]:
        module.fail_json(msg="%d problem%s found before any write; nothing was changed:\n%s" % (
            len(problems), "" if len(problems) == 1 else "s",
            "\n".join("%d. %s" % (i + 1, p) for i, p in enumerate(problems))), **result)


def read_user(graph, key, select, problems):
    """(the Entra user or None, whether Graph could be read); a failed read is a problem."""
    try:
        return graph.find_user(key, select), True
    except D365Error as error:
        problems.from_error("Reading %s in Microsoft Entra ID" % key, error,
                            "check tenant_id and the client's credentials and Graph permissions.")
        return None, False


def environment_fix(error):
    if isinstance(error, AuthError):
        return ("check the environment URL: a token for it was refused, so it is not an environment of this tenant "
                "(a typo, or another tenant's environment)")
    if isinstance(error, PermissionDeniedError):
        return "create an application user for the client with the System Administrator role in this environment"
    return "check the environment URL (Power Platform admin center > Environment > Environment URL)"


def read_caller(dataverse, client_id):
    """The client's own systemuser in the environment: {"UserId", "BusinessUnitId", "roles"}.

    An app signs in as its application user, so its client id finds it in one request, roles expanded; without a
    client id (a managed identity without one) or such a row, WhoAmI names the caller and a second request reads
    its roles (https://learn.microsoft.com/power-platform/admin/manage-application-users).
    """
    if client_id and is_guid(client_id):
        rows = dataverse.find_systemusers("applicationid eq %s" % guid(client_id, "client_id"),
                                          ("systemuserid", "_businessunitid_value", "deletedstate"), expand=CALLER_ROLES)
        live = [r for r in rows if not r.get("deletedstate")]
        if len(live) == 1:
            return {"UserId": live[0]["systemuserid"], "BusinessUnitId": live[0].get("_businessunitid_value"),
                    "roles": live[0].get(ROLES_NAV) or []}
    who = dataverse.whoami()
    return {"UserId": who["UserId"], "BusinessUnitId": who.get("BusinessUnitId"),
            "roles": dataverse.user_roles(who["UserId"])}


def check_caller_is_admin(dataverse, caller, problems):
    """Granting roles and changing access modes need the client's own application user to be System Administrator
    (https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes, 0x80048d2f)."""
    if not any((r.get("_roletemplateid_value") or "").lower() == SYSTEM_ADMINISTRATOR_TEMPLATE for r in caller["roles"]):
        problems.add("%s: the client's application user lacks System Administrator, which changing access modes "
                     "and granting roles needs. Fix: give it that role (Power Platform admin center > Environment "
                     "> Settings > Application users)." % dataverse.environment_url)

#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dataverse_systemuser
short_description: Synchronise an Entra user into Dataverse and set its access mode
version_added: 0.1.0
description:
  - Makes sure a Microsoft Entra user is a system user of one Dataverse environment and sets its access mode,
    for example V(non_interactive) for an integration account that must keep working without a licence.
  - Users get into Dataverse through the background synchronisation. With O(sync=true) a missing user is added at
    once through the Power Platform admin API (C(addUser)), then re-read.
  - "Sets the access mode with C(PATCH systemusers) and C(If-Match: *), only when it differs."
  - Before making a user non-interactive it checks the environment's count against the cap (7 per environment)
    and fails without writing when the cap is reached.
  - Needs an application user for the client with the System Administrator role and, for O(sync=true), the client
    registered as a Power Platform admin management application and the Graph permission C(User.Read.All)
    (only to resolve an O(identity) UPN to an object id).
author:
  - d365.identity maintainers (@d365-identity)
options:
  access_mode:
    description:
      - Access mode to set. Not managed when omitted.
      - V(non_interactive) keeps the user enabled after its licence is removed; set it while the user is still licensed.
    type: str
    choices: [read_write, administrative, read, support_user, non_interactive, delegated_admin]
  sync:
    description:
      - When the user is not in the environment, ask the Power Platform admin API to add it now (C(addUser)).
      - The user must be enabled, licensed for Dynamics 365 and in the environment's security group (if any).
      - When V(false), a missing user fails the task.
      - The admin API needs the Entra object id; an O(identity) that is a UPN is resolved through Microsoft Graph, a GUID
        is taken as the object id (a C(systemuserid) cannot name a user that is not in the environment yet).
    type: bool
    default: false
  sync_wait:
    description:
      - With O(sync=true), while the admin API refuses the user with C(userNotLicensed), ask again every
        O(sync_poll_interval) seconds for up to about this many seconds, in this one task. Entra licence assignment
        is asynchronous, so a licence given just now takes a while to reach the Power Platform.
      - When it still refuses, the task fails with C(transient=true), so a caller's C(until) loop can repeat it
        (the role C(non_interactive_user) does). V(0) fails at the first refusal. Other refusals never wait.
    type: int
    default: 0
    version_added: 0.4.0
  sync_poll_interval:
    description: Seconds between two C(addUser) requests while waiting (see O(sync_wait)); at least 1.
    type: int
    default: 10
    version_added: 0.4.0
  environment_id:
    description:
      - Power Platform environment id of O(environment_url) (the name the admin API lists it under), for O(sync=true).
      - When omitted it is read with C(RetrieveCurrentOrganization) (one more request), else from the admin API's
        environment list. Give it when already known, for example from M(d365.identity.non_interactive_user_info).
    type: str
    version_added: 0.3.0
  check_cap:
    description:
      - Before making the user non-interactive, read the environment's non-interactive count
        (C(RetrieveOrganizationResources)) and fail without writing when the cap is reached.
      - V(false) skips that read, for a caller that has just checked it (the role's read phase does). Dataverse itself
        refuses the change at the cap; that refusal is reported with its fix.
    type: bool
    default: true
    version_added: 0.3.0
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._dataverse
  - d365.identity._dataverse.USER_IDENTITY
  - d365.identity._dataverse.KNOWN_SYSTEMUSER
  - d365.identity._attributes
  - d365.identity._attributes.ACTIONGROUP_DATAVERSE
attributes:
  check_mode:
    support: full
    details: A missing user with O(sync=true) is reported as a pending change; nothing is written.
  diff_mode:
    support: full
    details: Shows whether the user is synchronised and its access mode.
  idempotent:
    support: full
notes:
  - At most 7 users per environment can be non-interactive; application users do not count.
"""

EXAMPLES = r"""
- name: Add the integration user to the environment now and make it non-interactive
  d365.identity.dataverse_systemuser:
    environment_url: https://contoso.crm4.dynamics.com
    identity: svc-integration@contoso.onmicrosoft.com
    sync: true
    access_mode: non_interactive
  register: dv_user

- name: Check that the user stayed non-interactive and enabled after removing the licence
  d365.identity.dataverse_systemuser_info:
    environment_url: https://contoso.crm4.dynamics.com
    identity: "{{ dv_user.systemuser.systemuserid }}"
  register: after
  failed_when: after.systemusers[0].accessmode != 4 or after.systemusers[0].isdisabled
"""

RETURN = r"""
systemuser:
  description:
    - The system user after the task (in check mode, as it would be).
    - After a change of access mode, the row as Dataverse returned it for that write (C(Prefer return=representation)),
      with the roles as read or passed on before it (RV(row_returned)), so the role gives the licence back without
      reading it again.
    - For a user that would be synchronised in check mode, RV(systemuser.systemuserid) is
      C(00000000-0000-0000-0000-000000000000).
  returned: always
  type: dict
  contains:
    systemuserid:
      description: Dataverse id of the user.
      type: str
    domainname:
      description: User principal name.
      type: str
    azureactivedirectoryobjectid:
      description: Microsoft Entra object id.
      type: str
    applicationid:
      description: Client id; set on application users only.
      type: str
    accessmode:
      description: Access mode number (4 is non-interactive).
      type: int
      sample: 4
    access_mode:
      description: Access mode name.
      type: str
      sample: non_interactive
    isdisabled:
      description: Whether the user is disabled in the environment.
      type: bool
    islicensed:
      description: Whether Dataverse considers the user licensed.
      type: bool
    businessunitid:
      description: Business unit of the user.
      type: str
    roles:
      description: Security roles (C(roleid), C(name), C(roletemplateid), C(businessunitid)).
      type: list
      elements: dict
row_returned:
  description:
    - True when RV(systemuser) is the row Dataverse returned for this task's change of access mode. False when the
      task wrote nothing, or the service answered without the row (then RV(systemuser) is as it was before, with the
      new access mode, and a later check must read it).
  returned: always
  type: bool
  version_added: 0.4.0
sync_requested:
  description: Whether the task asked the admin API to add the user (or, in check mode, would have).
  returned: always
  type: bool
  sample: false
sync_waited:
  description: Seconds this task waited for the user's licence to reach the admin API (see O(sync_wait)).
  returned: success
  type: int
  sample: 0
  version_added: 0.4.0
"""

import time

from ansible_collections.d365.identity.plugins.module_utils._clients.admin_api import ADMIN_APP
from ansible_collections.d365.identity.plugins.module_utils._compare import compute_patch, diff_for
from ansible_collections.d365.identity.plugins.module_utils._errors import (
    ApiError, ConfigError, D365Error, PermissionDeniedError)
from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._transport.writes import NOT_DONE, write_and_verify
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import (
    ACCESS_MODE_OPTION, ACCESS_MODES, IDENTITY_ARGSPEC_OLD_NAMES, KNOWN_SYSTEMUSER_OPTION, NON_INTERACTIVE, PLACEHOLDER_ID,
    ROLES_NAV, SELECT, access_mode_name, describe, known_row, non_interactive_counts, not_synchronised, read_one,
    systemuser_dict)

# Re-reads after addUser: it applies at once online; the waits only cover replication (about 30 s in all).
SYNC_WAITS = (0, 1, 2, 4, 8, 15)
ADD_USER_ATTEMPTS = 3
TRANSIENT_SYNC_CODES = ("userNotLicensed",)
SYNC_FIXES = {
    "userNotLicensed": "assign the user a Dynamics 365 licence that includes Dataverse first "
                       "(d365.identity.m365_license), then retry",
    "userNotPartOfSecurityGroup": "add the user to the environment's security group (Power Platform admin center > "
                                  "Environment > Edit > Security group), then retry",
    "userDisabled": "enable the user in Microsoft Entra ID (account_enabled), then retry",
    # Not an Entra user: a systemuserid (which cannot be synchronised) or a typo.
    "UserNotFound": "give the user's UPN or Entra object id as identity, or create the user first "
                    "(d365.identity.entra_user)",
}
# After sync_wait: the user was licensed when the wait began (the caller had just given the licence), so time helps.
PROPAGATION_FIX = ("the licence given to the user has not reached the Power Platform yet (Entra licence assignment "
                   "is asynchronous): wait longer (sync_wait; in the role non_interactive_user, "
                   "non_interactive_user_sync_retries x non_interactive_user_sync_delay), then retry")
BACKGROUND_SYNC = ("wait for the background synchronisation (the user must be enabled, hold a Dynamics 365 licence "
                   "and be in the environment's security group), poll with d365.identity.dataverse_systemuser_info, "
                   "or set sync: true to add it now")
ACCESS_MODE_ADMIN = ("the client's application user needs the System Administrator role and Read-Write access mode "
                     "to change access modes (0x80048d2f AccessModeChangeNeedSystemAdmin)")

# Refusals of the access-mode PATCH, with their fix. The cap error's code is not documented (assumed
# 0x80048d14): the cap itself is, https://learn.microsoft.com/power-platform/admin/create-users.
ACCESS_MODE_FIXES = {
    "0x80048d2f": ACCESS_MODE_ADMIN,
    "0x80048d14": "the environment reached its maximum of non-interactive users (another run may have taken the "
                  "last slot): set another non-interactive user of this environment back to Read-Write, or use an "
                  "application user (those do not count)",
}

sleep = time.sleep  # replaced by the unit tests


def environment_id(module, client):
    """Power Platform environment id: RetrieveCurrentOrganization (one Dataverse GET), else the admin API list."""
    try:
        detail = (client.current_organization() or {}).get("Detail") or {}
        if detail.get("EnvironmentId"):
            return detail["EnvironmentId"]
    except ApiError:
        pass
    env_id = module.admin_api_client().environment_id_for_url(client.environment_url)
    if not env_id:
        raise ConfigError("No Power Platform environment has the instance URL %s. Fix: check environment_url." %
                          client.environment_url)
    return env_id


def sync_error(params, environment_url, error, waited=0):
    """The addUser diagnostics as messages that name the fix."""
    text = " ".join(str(t) for t in (error.code, error.service_message) if t)
    fix = next((f for code, f in SYNC_FIXES.items() if code.lower() in text.lower()), None)
    if isinstance(error, PermissionDeniedError) or error.status == 403:
        fix = ADMIN_APP
    elif waited and fix == SYNC_FIXES["userNotLicensed"]:
        fix = PROPAGATION_FIX
    if fix is None:
        return error
    mapped = error.with_message("Could not add %s to %s (%s): %s. Fix: %s.%s" % (
        describe(params), environment_url, error.code or error.status,
        (error.service_message or error.message).strip().rstrip("."), fix,
        " (Asked again for %d s.)" % waited if waited else ""))
    # The licence is still propagating to the admin API: the one refusal worth retrying (terraform does too).
    mapped.transient = any(code.lower() in text.lower() for code in TRANSIENT_SYNC_CODES)
    return mapped


def object_id_of(module, params):
    """The Entra object id addUser needs: a GUID identity is taken as one (a systemuserid could not be
    added anyway); a UPN is resolved through Graph."""
    upn = identity.upn_of(params["identity"])
    if upn is None:
        return params["identity"].strip().lower()
    user = module.graph_client().find_user(upn, select=["id"])
    if not user:
        raise D365Error("User %s does not exist in Microsoft Entra ID, so it cannot be added to %s. "
                        "Fix: create the user first (d365.identity.entra_user)." % (upn, module.params["environment_url"]))
    return user["id"]


def request_sync(module, client):
    """addUser, then a bounded re-read. Returns (row, requested, seconds waited for the licence)."""
    params = module.params
    oid = object_id_of(module, params)
    by_oid = {"identity": oid}
    if identity.upn_of(params["identity"]):
        row = read_one(client, by_oid)  # already there under another domainname (renamed UPN)
        if row:
            return row, False, 0
    env_id = (params.get("environment_id") or "").strip() or environment_id(module, client)
    admin = module.admin_api_client()
    waited = [0]

    def send():
        # Asking again within one process costs a request, not a module run per attempt.
        pause = max(1, params["sync_poll_interval"])
        while True:
            try:
                admin.add_user(env_id, oid)
                return None
            except ApiError as error:
                if error.outcome_unknown:
                    raise
                mapped = sync_error(params, client.environment_url, error, waited[0])
                if not getattr(mapped, "transient", False) or waited[0] + pause > params["sync_wait"]:
                    raise mapped from None
            sleep(pause)
            waited[0] += pause

    def check():  # addUser may have been applied: re-read before asking again
        row = read_one(client, by_oid)
        return (row, True) if row else NOT_DONE

    found = write_and_verify(send, check, attempts=ADD_USER_ATTEMPTS)
    if found:
        return found + (waited[0],)
    for wait in SYNC_WAITS:
        if wait:
            sleep(wait)
        row = read_one(client, by_oid)
        if row:
            return row, True, waited[0]
    raise D365Error("The Power Platform admin API accepted adding %s to %s, but the user was still missing after "
                    "%d s. Fix: re-run the task later; the synchronisation may still be in progress." % (
                        describe(params), client.environment_url, sum(SYNC_WAITS)))


def check_cap(client, params):
    count, maximum = non_interactive_counts(client)
    if count >= maximum:
        raise D365Error("%s already has %d non-interactive users, the maximum of %d per environment: %s cannot be "
                        "made non-interactive. Fix: set another user of this environment back to read_write (list them "
                        "with d365.identity.dataverse_systemuser_info access_mode=non_interactive), or use an "
                        "application user (those do not count)." % (
                            client.environment_url, count, maximum, describe(params)))


CAP_ERROR = "0x80048d14"


def lost_the_last_slot(client, params, error):
    """The PATCH to Non-interactive was refused for the cap after check_cap() passed: another run took the
    last slot meanwhile. Name the environment, its count now and the fix (the counts re-read, best effort)."""
    try:
        count, maximum = non_interactive_counts(client)
        counts = "it now has %d of at most %d" % (count, maximum)
    except ApiError:
        counts = "it is at its maximum"
    return error.with_message(
        "%s: %s cannot be made non-interactive: Dataverse refused it for the environment's maximum of non-interactive "
        "users (%s; another run may have taken the last slot while this task ran; Dataverse: %s). Fix: set another "
        "non-interactive user of this environment back to Read-Write, or use an application user (those do not "
        "count), then run again." % (client.environment_url, describe(params), counts, error.message.rstrip()))


def would_be_user(params):
    """The check-mode placeholder of a user that would be synchronised."""
    upn = identity.upn_of(params["identity"])
    return {"systemuserid": PLACEHOLDER_ID, "domainname": upn,
            "azureactivedirectoryobjectid": None if upn else params["identity"].strip().lower(), "accessmode": ACCESS_MODES["read_write"],
            "isdisabled": False, "islicensed": True}


def run(module):
    params = module.params
    client = module.dataverse_client()
    row, known = known_row(params)
    if not known or (row is None and not params["sync"]):  # "missing" is trusted only to ask for the sync
        row = read_one(client, params)
    present = row is not None
    sync_requested, waited = False, 0
    if row is None:
        if not params["sync"]:
            raise not_synchronised(params, client.environment_url, BACKGROUND_SYNC)
        if module.check_mode:
            row = would_be_user(params)
        else:
            row, sync_requested, waited = request_sync(module, client)
        sync_requested = sync_requested or module.check_mode
    user = systemuser_dict(row)

    desired = {"synchronised": True,
               "accessmode": ACCESS_MODES[params["access_mode"]] if params["access_mode"] else None}
    changes = compute_patch(desired, {"synchronised": present, "accessmode": user["accessmode"]})
    patch = {k: v for k, v in changes.items() if k != "synchronised"}
    if patch.get("accessmode") == NON_INTERACTIVE and params["check_cap"]:
        check_cap(client, params)
    before = {"synchronised": present, "access_mode": access_mode_name(user["accessmode"]) if present else None}
    fresh = None
    if patch and not module.check_mode:
        try:
            # The row comes back as the service holds it after the write: a later step can trust it without a read.
            fresh = client.update_systemuser(user["systemuserid"], patch, select=SELECT)
        except ApiError as error:
            if (error.code or "").lower() == CAP_ERROR:
                raise lost_the_last_slot(client, params, error) from None
            fix = ACCESS_MODE_FIXES.get((error.code or "").lower())
            if fix:
                raise error.with_fix(fix) from None
            raise
    returned = bool(fresh) and (fresh.get("systemuserid") or "").lower() == (user["systemuserid"] or "").lower()
    if returned:
        fresh[ROLES_NAV] = row.get(ROLES_NAV)  # an update returns no expanded roles: as read or passed on
        user = systemuser_dict(fresh)
    elif "accessmode" in patch:
        user["accessmode"] = patch["accessmode"]
        user["access_mode"] = access_mode_name(patch["accessmode"])
    after = {"synchronised": True, "access_mode": user["access_mode"]}
    result = {"changed": bool(changes), "systemuser": user, "sync_requested": sync_requested, "row_returned": returned,
              "sync_waited": waited}
    if module._diff:
        result["diff"] = diff_for(before, after, ["synchronised", "access_mode"])
    return result


def main():
    spec = dict(identity.spec(IDENTITY_ARGSPEC_OLD_NAMES), access_mode=ACCESS_MODE_OPTION,
                sync={"type": "bool", "default": False}, environment_id={"type": "str"},
                sync_wait={"type": "int", "default": 0}, sync_poll_interval={"type": "int", "default": 10},
                check_cap={"type": "bool", "default": True}, systemuser=KNOWN_SYSTEMUSER_OPTION)
    run_module(D365Module(argument_spec=spec, dataverse=True, supports_check_mode=True), run)


if __name__ == "__main__":
    main()

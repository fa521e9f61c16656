#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dataverse_application_user
short_description: Create, disable or remove the Dataverse application user of an app registration
version_added: 0.4.0
description:
  - Makes sure the app registration O(application_id) has an application user (a server-to-server user,
    C(systemuser) with C(applicationid) set) in one Dataverse environment, that it is enabled or disabled, or
    that it is gone.
  - An application user needs no licence, does not count towards the cap of non-interactive users and
    signs in with the app's own credential (client secret or certificate). Dataverse allows one per app per
    environment and fills its name and object id from Microsoft Entra ID.
  - Finds the user with C($filter=applicationid eq <id>) and ignores soft-deleted rows (C(deletedstate) not 0).
    An existing application user is adopted as it is.
  - Creates it with C(POST systemusers) in the business unit O(business_unit). When Dataverse refuses the create
    because a soft-deleted row still holds the app id (C(0x80040237) "A record with matching key values already
    exists."), those rows are deleted permanently and the create is sent once more.
  - "Disables and enables with C(PATCH systemusers) C({isdisabled: true|false}) and C(If-Match: *)."
  - V(absent) disables the user, then sends C(DELETE) twice, the first soft-deletes it (its roles and teams are
    removed; it cannot be restored), the second deletes it permanently. A permanent delete that Dataverse refuses
    with C(0x80048610) (the user's own settings row) is sent once more. Soft-deleted rows of the app are removed
    too, so a run that was interrupted between the two deletes finishes the job.
  - Grant security roles with M(d365.identity.dataverse_role) and O(d365.identity.dataverse_role#module:application_id).
  - Needs an application user for the client running the task with the System Administrator role.
author:
  - d365.identity maintainers (@d365-identity)
options:
  application_id:
    description:
      - Application (client) ID of the app registration, a GUID.
      - For a multi-tenant app an administrator must consent to it in this tenant first.
    type: str
    required: true
  business_unit:
    description:
      - Business unit of the application user, by name (case-insensitive) or id.
      - When omitted, a new application user goes to the root business unit and an existing one stays where it is.
      - An existing application user in another business unit is left there with a warning unless
        O(move_business_unit=true).
    type: str
  move_business_unit:
    description:
      - Move an existing application user to O(business_unit) when it is in another one.
      - Dataverse removes the user's security roles when it moves; grant them again from the new business unit.
    type: bool
    default: false
  state:
    description:
      - V(present) creates the application user if needed and enables it if it is disabled.
      - V(disabled) creates it if needed and disables it; a disabled application user cannot sign in.
      - V(absent) disables it and deletes it permanently (two deletes).
    type: str
    choices: [present, disabled, absent]
    default: present
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._dataverse
  - d365.identity._attributes
  - d365.identity._attributes.ACTIONGROUP_DATAVERSE
attributes:
  check_mode:
    support: full
    details: Returns the application user as it would be (a new one with the placeholder id); nothing is written.
  diff_mode:
    support: full
    details: Shows the application id, business unit and whether the user is disabled, before and after.
  idempotent:
    support: full
notes:
  - Microsoft's descriptions of application users and their removal are
    U(https://learn.microsoft.com/power-platform/admin/manage-application-users) and
    U(https://learn.microsoft.com/power-platform/admin/create-dataverseapplicationuser).
seealso:
  - module: d365.identity.dataverse_role
  - module: d365.identity.dataverse_systemuser_info
  - name: Manage application users in the Power Platform admin center
    description: What an application user is, and how it is disabled and deleted.
    link: https://learn.microsoft.com/power-platform/admin/manage-application-users
  - name: Create a Dataverse application user
    description: The application user's business unit and security roles.
    link: https://learn.microsoft.com/power-platform/admin/create-dataverseapplicationuser
"""

EXAMPLES = r"""
- name: Give the integration app an application user in the root business unit
  d365.identity.dataverse_application_user:
    environment_url: https://contoso.crm4.dynamics.com
    application_id: 2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b
  register: app_user

- name: Make it a System Administrator (roles from its own business unit)
  d365.identity.dataverse_role:
    environment_url: https://contoso.crm4.dynamics.com
    application_id: 2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b
    roles:
      add: [System Administrator]

- name: Move it to the Sales business unit (its roles are removed by the move)
  d365.identity.dataverse_application_user:
    environment_url: https://contoso.crm4.dynamics.com
    application_id: 2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b
    business_unit: Sales
    move_business_unit: true

- name: Stop the app from signing in, keeping its user
  d365.identity.dataverse_application_user:
    environment_url: https://contoso.crm4.dynamics.com
    application_id: 2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b
    state: disabled

- name: Remove it for good
  d365.identity.dataverse_application_user:
    environment_url: https://contoso.crm4.dynamics.com
    application_id: 2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b
    state: absent
"""

RETURN = r"""
systemuserid:
  description:
    - Dataverse id of the application user; C(00000000-0000-0000-0000-000000000000) for one that check mode would
      create.
    - With O(state=absent), the id of the user that was removed, or null when there was none.
  returned: always
  type: str
  sample: 7a2d5c55-4e0b-4b0e-9b8e-0c6f3c1d2e11
application_user:
  description: The application user after the task (in check mode, as it would be); empty after O(state=absent).
  returned: always
  type: dict
  contains:
    systemuserid:
      description: Dataverse id of the user.
      type: str
    applicationid:
      description: Application (client) ID of the app registration.
      type: str
    fullname:
      description: Name Dataverse gave the user (C(# <app name>)); null for one check mode would create.
      type: str
      sample: "# Contoso integration"
    azureactivedirectoryobjectid:
      description: Object id of the app's service principal in Microsoft Entra ID.
      type: str
    isdisabled:
      description: Whether the user is disabled.
      type: bool
    businessunitid:
      description: Business unit of the user; its security roles come from there.
      type: str
    business_unit:
      description: Name of that business unit.
      type: str
purged:
  description: Soft-deleted rows of the app that the task deleted permanently (their ids).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.d365.identity.plugins.module_utils._compare import ChangeTracker
from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, ConflictError
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._odata import guid
from ansible_collections.d365.identity.plugins.module_utils._transport.writes import NOT_DONE, write_and_verify
from ansible_collections.d365.identity.plugins.module_utils._domain import application_users as app_users
from ansible_collections.d365.identity.plugins.module_utils._domain.business_units import (
    business_unit_name, resolve_business_unit)


class Writer:
    """Runs the planned steps against one environment; remembers the user's id and the rows it purged."""

    def __init__(self, client, application_id, business_unit, row, leftovers):
        self.client, self.application_id, self.business_unit = client, application_id, business_unit
        self.user_id = row["systemuserid"] if row else None
        self.leftovers = [r["systemuserid"] for r in leftovers]
        self.purged = []
        self.actions = {
            app_users.CREATE: self.create,
            app_users.MOVE: lambda: client.move_systemuser(self.user_id, business_unit["businessunitid"]),
            app_users.ENABLE: lambda: client.set_disabled(self.user_id, False),
            app_users.DISABLE: lambda: client.set_disabled(self.user_id, True),
            app_users.SOFT_DELETE: lambda: client.delete_systemuser(self.user_id, retry_codes=()),
            app_users.PERMANENT_DELETE: lambda: client.delete_systemuser(self.user_id),
            app_users.PURGE: lambda: self.purged.extend(client.purge_systemusers(self.leftovers)),
        }

    def run(self, steps):
        for step in steps:
            try:
                self.actions[step]()
            except ApiError as error:
                raise app_users.step_error(step, self.application_id, self.client.environment_url, error) from None

    def read(self):
        """(live row or None, soft-deleted rows) of the app, read now."""
        return app_users.split_rows(self.client.application_user_rows(self.application_id, app_users.SELECT),
                                    self.application_id, self.client.environment_url)

    def _post(self):
        return self.client.create_application_user(self.application_id, self.business_unit["businessunitid"])

    def _post_or_clear_the_way(self):
        """POST; refused as a duplicate: adopt a row a parallel run created, or purge the soft-deleted rows
        holding the app id and POST once more."""
        try:
            return self._post()
        except ConflictError as error:
            if (error.code or "").lower() != app_users.DUPLICATE_CODE:
                raise
            action, ids = app_users.after_duplicate(*self.read())
            if action == "fail":
                raise
        if action == "adopt":
            return ids
        self.purged.extend(self.client.purge_systemusers(ids))
        return self._post()

    def create(self):
        def check():  # the create may have been applied: re-read before sending it again
            live = self.read()[0]
            return live["systemuserid"] if live else NOT_DONE

        self.user_id = write_and_verify(self._post_or_clear_the_way, check)


def run(module):
    params = module.params
    state = params["state"]
    application_id = guid(params["application_id"], "application_id")
    client = module.dataverse_client()
    row, leftovers = app_users.split_rows(client.application_user_rows(application_id, app_users.SELECT),
                                          application_id, client.environment_url)
    wanted = None
    if state != "absent" and (row is None or params["business_unit"]):
        wanted = resolve_business_unit(client, params["business_unit"])
    bu_name = business_unit_name(client, row["_businessunitid_value"], wanted) if row else None
    steps = app_users.plan(state, row, leftovers, wanted, params["move_business_unit"])
    if state != "absent" and app_users.business_unit_differs(row, wanted) and app_users.MOVE not in steps:
        module.warn(app_users.mismatch_warning(row, wanted, bu_name, client.environment_url))

    before = app_users.application_user_dict(row, bu_name)
    after = app_users.expected(state, row, steps, application_id, wanted, bu_name)
    tracker = ChangeTracker(before, after, app_users.DIFF_KEYS)
    if app_users.PURGE in steps:
        tracker.note("soft-deleted rows removed")
    writer = Writer(client, application_id, wanted, row, leftovers)
    if steps and not module.check_mode:
        writer.run(steps)
        if state != "absent":
            live = writer.read()[0] or {}
            after = app_users.application_user_dict(live, business_unit_name(client, live.get(
                "_businessunitid_value"), wanted) if live else None)
    result = {"changed": tracker.changed, "application_user": after, "purged": writer.purged,
              "systemuserid": after.get("systemuserid") if after else before.get("systemuserid")}
    if module._diff:
        result["diff"] = tracker.diff()
    return result


def main():
    spec = {
        "application_id": {"type": "str", "required": True},
        "business_unit": {"type": "str"},
        "move_business_unit": {"type": "bool", "default": False},
        "state": {"type": "str", "choices": list(app_users.STATES), "default": "present"},
    }
    run_module(D365Module(argument_spec=spec, dataverse=True, supports_check_mode=True), run)


if __name__ == "__main__":
    main()

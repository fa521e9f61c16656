#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: entra_user
short_description: Create, update or delete a Microsoft Entra ID user (for example a Dynamics 365 service account)
version_added: 0.1.0
description:
  - Manages one Microsoft Entra ID (Azure AD) user through Microsoft Graph, found by its user principal name or object id
    (O(identity)).
  - Only the options you set are managed; a property whose option is not set is left as it is.
  - A create that is retried after a timeout or a dropped connection never makes a second user; the module
    reads the user back by UPN (waiting out the short time a new user answers 404) before it posts again.
  - O(state=absent) deletes the user (a soft delete; Microsoft keeps it in deleted items for 30 days). It is a
    no-op when the user does not exist.
  - Needs the Graph application permission C(User.ReadWrite.All).
author:
  - d365.identity maintainers (@d365-identity)
options:
  identity:
    description:
      - The user's UPN, for example V(svc-d365@contoso.onmicrosoft.com) (its domain must be a verified domain of the
        tenant), or its object id. Matching is case-insensitive.
      - A new user can only be created by UPN. An object id leaves the UPN unmanaged.
      - O(user_principal_name) and O(upn) are deprecated aliases, removed in 1.0.0.
    type: str
    required: true
    aliases: [user_principal_name, upn]
  state:
    description:
      - V(present) creates the user or brings the managed properties to the given values.
      - V(absent) deletes the user, only if the collection owns it (see O(owner_attribute)) or O(adopt=true).
    type: str
    choices: [present, absent]
    default: present
  display_name:
    description:
      - Display name. Required to create the user.
    type: str
  mail_nickname:
    description:
      - Mail alias (C(mailNickname)).
      - When not set, a new user gets the local part of the UPN with the characters Graph refuses
        removed; an existing user's alias is then left as it is.
    type: str
  usage_location:
    description:
      - Two-letter ISO 3166 country code, for example V(GB) or V(US). Microsoft 365 licences can only be assigned
        to a user with a usage location (see M(d365.identity.m365_license)).
    type: str
  account_enabled:
    description:
      - Whether the account can sign in. A new user is enabled unless this is V(false).
    type: bool
  password:
    description:
      - Initial password. Required to create the user.
      - Graph cannot read passwords back, so O(update_password) decides when an existing user's password is set.
      - Never returned or logged.
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the user is created.
      - V(always) sets it on every run, so the task always reports a change.
    type: str
    choices: [on_create, always]
    default: on_create
  force_change_password_next_sign_in:
    description:
      - Whether the user must change the password at the next sign-in. Sent with the password only.
      - Keep V(false) for a service account, which cannot change its password interactively and could then not
        be used by tools.
    type: bool
    default: false
  known_missing:
    description:
      - V(true) when an earlier task of this run found the user missing (for example
        M(d365.identity.non_interactive_user_info), whose plan then says C(create)). The task then creates it without
        reading it first.
      - Trusted only for the create. A create that meets an existing user (another run's, or one created since that
        read) reads that user and manages it like any existing user, ownership rules included.
      - Ignored with O(state=absent) and with an object id as O(identity); then the user is read.
    type: bool
    default: false
    version_added: 0.4.0
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._ownership
  - d365.identity._attributes
  - d365.identity._attributes.ACTIONGROUP_GRAPH
attributes:
  check_mode:
    support: full
    details: Nothing is written. A user that would be created is returned with the id V(00000000-0000-0000-0000-000000000000).
  diff_mode:
    support: full
    details: Shows the managed properties before and after; never the password.
  idempotent:
    support: full
    details: Not with O(update_password=always) and O(password) set, which sets the password on every run.
notes:
  - Graph does not say whether a soft-deleted user still blocks its UPN. If a create fails because the UPN is taken
    by a deleted user, restore it or delete it permanently from deleted items.
seealso:
  - module: d365.identity.m365_license
"""

EXAMPLES = r"""
- name: Create a service account for Dynamics 365
  d365.identity.entra_user:
    identity: svc-d365@contoso.onmicrosoft.com
    display_name: Dynamics 365 integration
    usage_location: GB
    password: "{{ vault_svc_d365_password }}"
  register: svc

- name: Disable it, leaving its other properties as they are
  d365.identity.entra_user:
    identity: svc-d365@contoso.onmicrosoft.com
    account_enabled: false

- name: Reset the password
  d365.identity.entra_user:
    identity: svc-d365@contoso.onmicrosoft.com
    password: "{{ vault_svc_d365_password }}"
    update_password: always
  no_log: true

- name: Delete the user (soft delete)
  d365.identity.entra_user:
    identity: svc-d365@contoso.onmicrosoft.com
    state: absent
"""

RETURN = r"""
adopted:
  description: Whether this task marked an existing user as the collection's own (O(adopt=true)).
  returned: when O(state=present) and the user existed
  type: bool
id:
  description:
    - Object id of the user; V(00000000-0000-0000-0000-000000000000) for a user that check mode would create.
    - With O(state=absent), the id of the deleted user, or null when there was none.
  returned: always
  type: str
  sample: 87d349ed-44d7-43e1-9a83-5f2406dee5bd
user:
  description:
    - The user as Graph describes it after the task (in check mode, as it would be).
    - With O(state=absent), the user as it was before deletion, or null when there was none.
  returned: always
  type: dict
  contains:
    id:
      description: Object id.
      type: str
    userPrincipalName:
      description: UPN.
      type: str
    displayName:
      description: Display name.
      type: str
    accountEnabled:
      description: Whether the account can sign in.
      type: bool
    usageLocation:
      description: ISO 3166 alpha-2 country code, or null.
      type: str
    mailNickname:
      description: Mail alias.
      type: str
    licenseAssignmentStates:
      description:
        - The user's licence assignments (C(skuId), C(disabledPlans), C(assignedByGroup), ...); V([]) for a user this
          task created. For the O(d365.identity.m365_license#module:known_user) option of M(d365.identity.m365_license).
      type: list
      elements: dict
      version_added: 0.4.0
    onPremisesExtensionAttributes:
      description: The extension attributes, one of which holds the ownership mark (see O(owner_attribute)).
      type: dict
      version_added: 0.4.0
    onPremisesSyncEnabled:
      description: Whether the user is synchronised from on-premises Active Directory.
      type: bool
      version_added: 0.4.0
  sample:
    id: 87d349ed-44d7-43e1-9a83-5f2406dee5bd
    userPrincipalName: svc-d365@contoso.onmicrosoft.com
    displayName: Dynamics 365 integration
    accountEnabled: true
    usageLocation: GB
    mailNickname: svc-d365
"""

from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils._compare import ChangeTracker, compute_patch
from ansible_collections.d365.identity.plugins.module_utils._domain.user_names import (
    check_mail_nickname, check_upn, mail_nickname_from_upn, usage_location)
from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError, ConflictError, NotFoundError
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._domain import ownership
from ansible_collections.d365.identity.plugins.module_utils._transport.writes import NOT_DONE, write_and_verify

PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
SELECT = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation", "mailNickname")
# Also returned, so m365_license (option known_user) need not read the user again: its licences and the mark.
PASSED_ON = ("licenseAssignmentStates",) + ownership.SELECT
READ = SELECT + PASSED_ON
# Graph property <- module option; the order is the diff's order.
MANAGED = (("userPrincipalName", "user_principal_name"), ("displayName", "display_name"),
           ("mailNickname", "mail_nickname"), ("accountEnabled", "account_enabled"),
           ("usageLocation", "usage_location"))
CASEFOLD = ("userPrincipalName",)


def desired_properties(params):
    """Graph properties the user set; None means unmanaged."""
    values = dict(params)
    upn = identity.upn_of(params["identity"])
    values["user_principal_name"] = check_upn(upn) if upn else None  # an object id leaves the UPN unmanaged
    values["usage_location"] = usage_location(params.get("usage_location"))
    values["mail_nickname"] = check_mail_nickname(params.get("mail_nickname"))
    return {prop: values.get(option) for prop, option in MANAGED}


def shown(user):
    """The returned user: the selected properties, and the passed-on ones where known (never passwordProfile)."""
    if not user:
        return None
    return dict({k: user.get(k) for k in SELECT}, **{k: user[k] for k in PASSED_ON if k in user})


def new_user_facts(number):
    """What a user this task creates holds besides the body: no licence, our mark, not synchronised from AD."""
    return {"licenseAssignmentStates": [], "onPremisesSyncEnabled": None,
            ownership.ATTRIBUTES: ownership.mark_body(number)[ownership.ATTRIBUTES]}


def password_profile(params):
    return {"password": params["password"],
            "forceChangePasswordNextSignIn": bool(params["force_change_password_next_sign_in"])}


def create_once(client, upn, body, number):
    """POST users, never making two: after a dropped connection or a 5xx, re-read by UPN (through the
    new-user 404 window) and post again only while it is still absent.

    Returns (user, created): created is False when the user was there before our POST landed (our
    first read fell into the new-user 404 window, or a parallel run created it): it is then managed
    like any existing user, ownership rules included. A user found after an unanswered POST is ours
    only if it carries our mark.
    """
    def send():
        try:
            return client.create_user(body), True
        except ConflictError as error:  # duplicate UPN
            existing = client.find_user_eventually(upn, READ)
            if existing is None:
                raise error.with_message(
                    error.message + ". No active user has this UPN: a deleted user probably holds it. Restore it or "
                    "delete it permanently (Graph directory/deletedItems), or choose another UPN.")
            return existing, False

    def check():
        existing = client.find_user_eventually(upn, READ)
        return NOT_DONE if existing is None else (existing, ownership.is_owned(existing, number))

    return write_and_verify(send, check)


def delete_once(client, user_id):
    """DELETE users/{id}; gone already (or gone after an unanswered try) counts as done."""
    def send():
        try:
            client.delete_user(user_id)
        except NotFoundError:
            pass

    return write_and_verify(send, lambda: None if client.find_user(user_id, ("id",)) is None else NOT_DONE)


def create(module, client, desired):
    params = module.params
    upn = desired["userPrincipalName"]
    if upn is None:
        raise ConfigError("No user has the object id %s. Fix: to create a user, give its user principal name as "
                          "identity." % params["identity"])
    missing = [name for name in ("display_name", "password") if not params[name]]
    if missing:
        raise ConfigError("User %s does not exist, and creating it needs %s: set %s." % (
            upn, " and ".join(missing), " and ".join(missing)))
    body = {k: v for k, v in desired.items() if v is not None}
    body.setdefault("accountEnabled", True)
    body.setdefault("mailNickname", mail_nickname_from_upn(upn))
    mark = ownership.mark_body(params["owner_attribute"])  # in the create itself: no unmarked user of ours
    changes = ChangeTracker({}, body, [prop for prop, _option in MANAGED])
    result = {"changed": changes.changed}
    if module._diff:
        result["diff"] = changes.diff()
    if module.check_mode:
        user = dict(body, id=PLACEHOLDER_ID, **new_user_facts(params["owner_attribute"]))
    else:
        answer, created = create_once(client, upn, dict(body, passwordProfile=password_profile(params), **mark),
                                      params["owner_attribute"])
        if not created:  # it existed all along: manage it like any existing user
            return update(module, client, answer, desired)
        # POST answers with the default properties only: fill in what was sent.
        user = dict(body, **new_user_facts(params["owner_attribute"]))
        user.update({k: v for k, v in answer.items() if k in SELECT and v is not None})
        user = update(module, client, user, desired, created=True)["user"]
    result.update(user=shown(user), id=user["id"])
    return result


def update(module, client, current, desired, created=False):
    params = module.params
    patch = compute_patch(desired, current, casefold=CASEFOLD)
    # A user this run created already has the password (and may still answer 404 for a moment).
    send_password = bool(params["password"]) and params["update_password"] == "always" and not created
    after = dict(current, **patch)
    adopting = False
    if (patch or send_password or params["adopt"]) and not created:
        # Any change to a user the collection does not own needs the operator's adopt (before any write);
        # adopt itself is a change: the mark, so the collection owns the user from then on.
        adopting = ownership.require_owned(current, params["owner_attribute"], params["adopt"], "change")
    if adopting:  # the mark as this task writes it (other attributes kept)
        after[ownership.ATTRIBUTES] = dict(current.get(ownership.ATTRIBUTES) or {},
                                           **ownership.mark_body(params["owner_attribute"])[ownership.ATTRIBUTES])
    changes = ChangeTracker(current, after, [prop for prop, _option in MANAGED if desired[prop] is not None])
    if send_password:
        changes.note("password")  # never shown
    if adopting:
        changes.note("ownership mark")
    if changes.changed and not module.check_mode:
        body = dict(patch, **(ownership.mark_body(params["owner_attribute"]) if adopting else {}))
        if send_password:
            body["passwordProfile"] = password_profile(params)
        client.update_user(current["id"], body)
    result = {"changed": created or changes.changed, "user": shown(after), "id": current["id"], "adopted": adopting}
    if module._diff and not created:
        result["diff"] = changes.diff()
    return result


def run(module):
    params = module.params
    client = module.graph_client()
    key = identity.upn_of(params["identity"])
    key = check_upn(key) if key else params["identity"].strip()
    if params["state"] == "absent":
        current = client.find_user(key, READ)
        if current is None:
            return {"changed": False, "user": None, "id": None}
        if not ownership.is_owned(current, params["owner_attribute"]) and not params["adopt"]:
            ownership.require_owned(current, params["owner_attribute"], False, "delete")
        changes = ChangeTracker(shown(current), {}, [prop for prop, _option in MANAGED])
        result = {"changed": changes.changed, "user": shown(current), "id": current["id"]}
        if module._diff:
            result["diff"] = changes.diff()
        if not module.check_mode:
            delete_once(client, current["id"])
        return result
    desired = desired_properties(params)
    # "Missing" as an earlier read found it is trusted only to create: create_once() handles a user that exists.
    known_missing = params["known_missing"] and desired["userPrincipalName"] is not None  # only a UPN can be created
    current = None if known_missing else client.find_user(key, READ)
    if current is None:
        return create(module, client, desired)
    return update(module, client, current, desired)


def main():
    module = D365Module(
        argument_spec={
            **identity.spec(("user_principal_name", "upn")),
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "display_name": {"type": "str"},
            "mail_nickname": {"type": "str"},
            "usage_location": {"type": "str"},
            "account_enabled": {"type": "bool"},
            "password": {"type": "str", "no_log": True},
            "update_password": {"type": "str", "default": "on_create", "choices": ["on_create", "always"], "no_log": False},
            "force_change_password_next_sign_in": {"type": "bool", "default": False, "no_log": False},
            "known_missing": {"type": "bool", "default": False},
            **ownership.ARGSPEC,
        },
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()

# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: returned_statuses
short_description: Which environments the rows of this run's writes show finished, and which must be read again
version_added: 0.4.0
description:
  - Takes the systemusers by environment URL that Dataverse returned for writes of this run (filter
    P(d365.identity.systemusers_by_url#filter) with O(d365.identity.systemusers_by_url#filter:written_only=true) on the
    results of M(d365.identity.dataverse_systemuser) after it changed the access mode) and judges each environment
    from its row the way M(d365.identity.non_interactive_user_info) judges a row it read (enabled, Non-interactive,
    with the security roles).
  - An environment without such a row, with a row of another user, or with a row that lacks C(isdisabled) or
    C(accessmode), is left to be read again.
  - The role uses it before it gives the licence back, so a fresh run reads none of the environments again.
author:
  - d365.identity maintainers (@d365-identity)
options:
  _input:
    description: Systemusers by environment URL, as RV(d365.identity.dataverse_systemuser#module:systemuser) returns them.
    type: dict
    required: true
  environments:
    description: The environment URLs to judge.
    type: list
    elements: str
    required: true
  security_roles:
    description: The roles the user must hold (names or role template GUIDs).
    type: list
    elements: str
    required: true
  user_id:
    description: The Entra object id of the user; rows of anyone else are ignored.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Judge the environments from the rows the access-mode step got back
  ansible.builtin.set_fact:
    confirmed: >-
      {{ [set_access] | d365.identity.systemusers_by_url(written_only=true)
         | d365.identity.returned_statuses(environments, ['System Administrator'], user_id) }}
"""

RETURN = r"""
_value:
  description:
    - C(pending), the environments whose returned row shows the user not yet finished (disabled, not Non-interactive
      or without a role), and C(unread), the environments without a returned row, to be read again.
  type: dict
"""

from ansible_collections.d365.identity.plugins.module_utils._domain import plan as _plan
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import known_row


def returned_statuses(rows, environments, security_roles, user_id):
    pending, unread = [], []
    for url in environments or []:
        known = (rows or {}).get(str(url).rstrip("/"))
        row, trusted = known_row({"systemuser": known, "identity": user_id}) if isinstance(known, dict) else (None, False)
        if not (trusted and row) or not isinstance(row.get("isdisabled"), bool) or row.get("accessmode") is None:
            unread.append(url)  # not this user's, or without the fields that decide: read it
        elif not _plan.environment_status(url, row, security_roles or [])["done"]:
            pending.append(url)
    return {"pending": pending, "unread": unread}


class FilterModule:
    def filters(self):
        return {"returned_statuses": returned_statuses}

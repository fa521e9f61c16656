# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: systemusers_by_url
short_description: Each environment's systemuser, as looped Dataverse tasks of this run returned it
version_added: 0.4.0
description:
  - Takes a list of registered loop results of M(d365.identity.dataverse_systemuser), M(d365.identity.dataverse_role)
    (RV(d365.identity.dataverse_systemuser#module:systemuser)) or M(d365.identity.dataverse_systemuser_info) (the
    one element of its C(systemusers)), looped over environments (items with a C(url)), and returns a dict of
    systemusers by environment URL; a later result wins. A skipped or failed item gives nothing.
  - The next task passes the row on as its O(d365.identity.dataverse_role#module:systemuser) option, so it does not
    read the user again.
author:
  - d365.identity maintainers (@d365-identity)
options:
  _input:
    description: Registered loop results, oldest first.
    type: list
    elements: dict
    required: true
  written_only:
    description:
      - Only the rows Dataverse returned for a write of this run (results with
        RV(d365.identity.dataverse_systemuser#module:row_returned), that is M(d365.identity.dataverse_systemuser) after a
        change of access mode answered with the row); the others are left out, to be read again.
    type: bool
    default: false
    version_added: 0.4.0
"""

EXAMPLES = r"""
- name: Grant the roles to the users the sync returned
  d365.identity.dataverse_role:
    environment_url: "{{ item.url }}"
    identity: "{{ user_id }}"
    systemuser: "{{ ([synced] | d365.identity.systemusers_by_url)[item.url] | default(omit) }}"
    roles:
      add: [System Administrator]
  loop: "{{ environments }}"
"""

RETURN = r"""
_value:
  description: The systemuser per environment URL (without trailing slash, as given in the loop items).
  type: dict
"""


def _row(result, written_only=False):
    if not isinstance(result, dict) or result.get("failed") or result.get("skipped"):
        return None
    if written_only and result.get("row_returned") is not True:
        return None
    if isinstance(result.get("systemuser"), dict) and result["systemuser"]:
        return result["systemuser"]
    rows = result.get("systemusers")
    return rows[0] if isinstance(rows, list) and len(rows) == 1 else None


def systemusers_by_url(registered, written_only=False):
    out = {}
    for task in registered or []:
        for result in (task or {}).get("results") or [] if isinstance(task, dict) else []:
            item, row = result.get("item") if isinstance(result, dict) else None, _row(result, written_only)
            if isinstance(item, dict) and item.get("url") and row:
                out[str(item["url"]).rstrip("/")] = row
    return out


class FilterModule:
    def filters(self):
        return {"systemusers_by_url": systemusers_by_url}

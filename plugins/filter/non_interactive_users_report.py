# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: non_interactive_users_report
short_description: The fleet report or the audit report, as rows, a text table, Markdown and JSON
version_added: 0.3.0
description:
  - With O(kind=fleet), takes the list of every user's C(non_interactive_user_result) (the role records it; see
    P(d365.identity.non_interactive_user_result#filter)) and returns one row per user x environment with the
    outcome, state, access mode, roles, licence held and what changed or why it failed. A missing result (a host
    that failed before the role ran) becomes a failed row, so no user drops out of the report.
  - With O(kind=audit), takes the result of M(d365.identity.non_interactive_users_audit_info).
  - Used by the playbooks C(d365.identity.non_interactive_users) and C(d365.identity.non_interactive_users_audit).
author:
  - d365.identity maintainers (@d365-identity)
options:
  _input:
    description: The users' results (O(kind=fleet)) or the audit module's result (O(kind=audit)).
    type: raw
    required: true
  kind:
    description: Which report.
    type: str
    choices: [fleet, audit]
    default: fleet
  hosts:
    description: The inventory host of each result, to name a host whose result is missing (O(kind=fleet)).
    type: list
    elements: str
  path:
    description: >-
      The file the report goes to; RV(_value.file_content) is its content, Markdown for a C(.md) or C(.markdown)
      path, the text table for C(.txt), JSON otherwise.
    type: str
"""

EXAMPLES = r"""
- name: Build the fleet report from every user's result
  ansible.builtin.set_fact:
    fleet_report: >-
      {{ ansible_play_hosts_all | map('extract', hostvars) | map(attribute='non_interactive_user_result', default=None)
         | d365.identity.non_interactive_users_report(hosts=ansible_play_hosts_all, path='/tmp/fleet.md') }}

- name: Show it
  ansible.builtin.debug:
    msg: "{{ fleet_report.text.splitlines() }}"
"""

RETURN = r"""
_value:
  description:
    - C(kind), C(summary) (counts), C(rows) (one dict per user x environment), C(failed) (with O(kind=fleet), the
      C(user) and C(message) of each failed user), C(environments) and C(errors) (with O(kind=audit)); and the
      renderings C(text) (a plain table), C(markdown), C(json) and C(file_content) (for O(path), else null).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.d365.identity.plugins.module_utils._domain.report import (
    AUDIT, FLEET, audit_report, fleet_report, render)


def non_interactive_users_report(data, kind=FLEET, hosts=None, path=None):
    if kind == FLEET:
        if not isinstance(data, (list, tuple)):
            raise AnsibleFilterError("non_interactive_users_report(kind='fleet') takes the list of the users' results")
        return render(fleet_report(data, hosts), path)
    if kind == AUDIT:
        if not isinstance(data, dict):
            raise AnsibleFilterError("non_interactive_users_report(kind='audit') takes the audit module's result")
        return render(audit_report(data), path)
    raise AnsibleFilterError("non_interactive_users_report: kind must be fleet or audit, got %r" % (kind,))


class FilterModule:
    def filters(self):
        return {"non_interactive_users_report": non_interactive_users_report}

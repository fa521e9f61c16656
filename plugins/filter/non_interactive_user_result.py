# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: non_interactive_user_result
short_description: One non-interactive user's result per environment, from what the role read and did
version_added: 0.3.0
description:
  - Used by the role C(d365.identity.non_interactive_user) (its C(result.yml)) to record C(non_interactive_user_result),
    the user's outcome (V(ok), V(changed), V(removed), V(would change) in check mode, V(failed)) and, per environment,
    its state, access mode, roles, and what changed or why the run failed; plus the licence the user holds.
  - The playbook C(d365.identity.non_interactive_users) gathers every user's result into the fleet report with
    P(d365.identity.non_interactive_users_report#filter).
  - The input names only what the role already holds; it never includes the user's password.
author:
  - d365.identity maintainers (@d365-identity)
options:
  _input:
    description:
      - C(upn), C(state), C(check_mode), C(environments), C(security_roles), C(remove_license) (the role's inputs);
        C(plan) (the read phase's registered result), C(watch) (the re-read after the licence was given back),
        C(after) (the re-read after a failure), C(gave_back) (the give-back after a failure) and C(failure)
        (C(task), C(message), C(environment), C(error_code), C(request_id); empty when the run did not fail).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Record this user's result (as the role's result.yml does)
  ansible.builtin.set_fact:
    non_interactive_user_result: "{{ {'upn': non_interactive_user_upn, 'plan': __non_interactive_user_plan}
      | d365.identity.non_interactive_user_result }}"
"""

RETURN = r"""
_value:
  description:
    - C(user), C(state), C(outcome), C(failed), C(changed), C(check_mode), C(licence) (what the user holds of the
      borrowable licences), C(changes) (to the Entra user and its licence), C(message) (the failure) and
      C(environments), one dict per environment with C(environment), C(outcome), C(state) (V(ready), V(incomplete),
      V(disabled), V(not synchronised), V(absent), V(removed), V(unknown)), C(access_mode), C(roles), C(detail).
  type: dict
"""

from ansible_collections.d365.identity.plugins.module_utils._domain.report import user_result


def non_interactive_user_result(data):
    return user_result(data)


class FilterModule:
    def filters(self):
        return {"non_interactive_user_result": non_interactive_user_result}

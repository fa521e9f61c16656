# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: failure_cause
short_description: The cause of a failed task, also when the task was a loop
version_added: 0.2.0
description:
  - Takes C(ansible_failed_result) and returns C(message), C(error_code), C(environment) and C(request_id) of the
    first failed item, so a rescue can report the service's own error instead of "One or more items failed".
author:
  - d365.identity maintainers (@d365-identity)
options:
  _input:
    description: The failed task's result (C(ansible_failed_result)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Report the cause
  ansible.builtin.fail:
    msg: "{{ (ansible_failed_result | d365.identity.failure_cause).message }}"
"""

RETURN = r"""
_value:
  description: C(message), C(error_code), C(environment) (the loop item's URL, or null) and C(request_id).
  type: dict
"""


def _environment(item):
    if isinstance(item, dict):
        return item.get("url") or item.get("environment_url")
    if isinstance(item, str) and item.startswith("https://"):
        return item
    return None


def failure_cause(result):
    """The first failed item of a loop result (or the result itself), reduced to what the operator needs."""
    result = result if isinstance(result, dict) else {}
    failed = next((r for r in result.get("results") or [] if isinstance(r, dict) and r.get("failed")), result)
    environment = _environment(failed.get("item"))
    if environment is None:
        environment = ((failed.get("invocation") or {}).get("module_args") or {}).get("environment_url")
    message = failed.get("msg")
    if not message and failed.get("attempts"):
        message = "the condition was still not met after %s attempts" % failed["attempts"]
    message = message or result.get("msg") or "no message"
    return {"message": str(message).strip(), "error_code": failed.get("error_code"),
            "environment": environment, "request_id": failed.get("request_id")}


class FilterModule:
    def filters(self):
        return {"failure_cause": failure_cause}

#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: m365_license_info
short_description: List the tenant's Microsoft 365 / Dynamics 365 licence SKUs and free seats
version_added: 0.1.0
description:
  - Reads C(GET /subscribedSkus) from Microsoft Graph and returns each SKU with its seats (enabled, consumed, free)
    and service plans.
  - Use it to pick the first SKU of a preference list that still has a free seat before borrowing a licence.
  - Needs the Graph application permission C(LicenseAssignment.Read.All) (or C(Organization.Read.All)).
author:
  - d365.identity maintainers (@d365-identity)
options:
  skus:
    description:
      - Only return these SKUs, given as C(skuPartNumber) (for example V(DYN365_ENTERPRISE_PLAN1)) or C(skuId) GUID.
      - Matching is case-insensitive; names the tenant does not have are listed in RV(unknown_skus).
    type: list
    elements: str
    aliases: [sku]
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._attributes
  - d365.identity._attributes.INFO_MODULE
  - d365.identity._attributes.ACTIONGROUP_GRAPH
"""

EXAMPLES = r"""
- name: List every SKU of the tenant
  d365.identity.m365_license_info:
  register: licenses

- name: Pick the first Dynamics 365 SKU with a free seat
  d365.identity.m365_license_info:
    skus: [DYN365_ENTERPRISE_PLAN1, DYN365_ENTERPRISE_SALES]
  register: dynamics

- name: Show it
  ansible.builtin.debug:
    msg: "{{ (dynamics.skus | selectattr('seats.free', 'gt', 0) | first).skuPartNumber }}"
"""

RETURN = r"""
skus:
  description: The SKUs, in the order of O(skus) when given, else as Graph lists them.
  returned: always
  type: list
  elements: dict
  contains:
    skuId:
      description: GUID to pass to C(assignLicense).
      type: str
      sample: ea126fc5-a19e-42e2-a731-da9d437bffcf
    skuPartNumber:
      description: Readable SKU name.
      type: str
      sample: DYN365_ENTERPRISE_PLAN1
    capabilityStatus:
      description: C(Enabled), C(Warning), C(Suspended), C(Deleted) or C(LockedOut).
      type: str
    appliesTo:
      description: C(User) or C(Company); only C(User) SKUs can be assigned.
      type: str
    seats:
      description: Seat counts; C(free) is C(enabled - consumed), never below 0.
      type: dict
      sample: {"enabled": 25, "consumed": 14, "free": 11}
    servicePlans:
      description: Service plans of the SKU (C(servicePlanId), C(servicePlanName)).
      type: list
      elements: dict
unknown_skus:
  description: Requested SKUs the tenant does not have.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.d365.identity.plugins.module_utils._domain.licenses import split_known, summarize
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module


def run(module):
    skus = module.graph_client().subscribed_skus()
    unknown = []
    if module.params["skus"]:
        skus, unknown = split_known(skus, module.params["skus"])
    return {"changed": False, "skus": [summarize(s) for s in skus], "unknown_skus": unknown}


def main():
    module = D365Module(
        argument_spec={"skus": {"type": "list", "elements": "str", "aliases": ["sku"]}},
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils._clients.graph import GraphClient
from ansible_collections.d365.identity.plugins.modules import m365_license_info

SKUS = [
    {"skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df", "skuPartNumber": "ENTERPRISEPREMIUM", "appliesTo": "User",
     "capabilityStatus": "Enabled", "consumedUnits": 14, "prepaidUnits": {"enabled": 25, "suspended": 0},
     "servicePlans": [{"servicePlanId": "8c098270-9dd4-4350-9b30-ba4703f3b36b", "servicePlanName": "ADALLOM_S_O365"}]},
    {"skuId": "d17b27af-3f49-4822-99f9-56a661538792", "skuPartNumber": "CRMSTANDARD", "appliesTo": "User",
     "capabilityStatus": "Suspended", "consumedUnits": 14, "prepaidUnits": {"enabled": 0, "suspended": 25},
     "servicePlans": []},
]
ARGS = {"tenant_id": "t", "client_id": "c", "client_secret": "s"}


def run(monkeypatch, capsys, args):
    monkeypatch.setattr(GraphClient, "subscribed_skus", lambda self: SKUS)
    with patch_module_args(dict(ARGS, **args)), pytest.raises(SystemExit):
        m365_license_info.main()
    return json.loads(capsys.readouterr().out)


def test_lists_all_with_seats(monkeypatch, capsys):
    result = run(monkeypatch, capsys, {})
    assert result["changed"] is False
    assert [s["skuPartNumber"] for s in result["skus"]] == ["ENTERPRISEPREMIUM", "CRMSTANDARD"]
    assert result["skus"][0]["seats"] == {"enabled": 25, "consumed": 14, "free": 11}
    assert result["skus"][1]["seats"] == {"enabled": 0, "consumed": 14, "free": 0}  # suspended: no free seat


def test_filter_by_part_number_or_guid_in_request_order(monkeypatch, capsys):
    result = run(monkeypatch, capsys, {"skus": ["D17B27AF-3F49-4822-99F9-56A661538792", "enterprisepremium", "NOPE"]})
    assert [s["skuPartNumber"] for s in result["skus"]] == ["CRMSTANDARD", "ENTERPRISEPREMIUM"]
    assert result["unknown_skus"] == ["NOPE"]

# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.modules import m365_license_info
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph, graph_sku

# The two SKUs of Microsoft's subscribedSkus example (examples/graph-subscribedskus-list.json).
SKUS = [
    graph_sku("c7df2760-2c81-4ef7-b578-5b5392b571df", "ENTERPRISEPREMIUM",
              [("8c098270-9dd4-4350-9b30-ba4703f3b36b", "ADALLOM_S_O365")], consumed=14, enabled=25),
    graph_sku("d17b27af-3f49-4822-99f9-56a661538792", "CRMSTANDARD",
              [("f9646fb2-e3b2-4309-95de-dc4833737456", "CRMSTANDARD")], consumed=14, enabled=0, suspended=25,
              status="Suspended"),
]


@pytest.fixture
def tenant(tenant):
    tenant.module = m365_license_info
    tenant.graph = FakeGraph(skus=SKUS)
    return tenant


def test_lists_all_with_seats(tenant):
    result = tenant.run()
    assert result["changed"] is False
    assert [s["skuPartNumber"] for s in result["skus"]] == ["ENTERPRISEPREMIUM", "CRMSTANDARD"]
    assert result["skus"][0]["seats"] == {"enabled": 25, "consumed": 14, "free": 11}
    assert result["skus"][1]["seats"] == {"enabled": 0, "consumed": 14, "free": 0}  # suspended: no free seat
    assert tenant.graph.names() == ["subscribed_skus"] and tenant.graph.writes() == []


def test_filter_by_part_number_or_guid_in_request_order(tenant):
    result = tenant.run(skus=["D17B27AF-3F49-4822-99F9-56A661538792", "enterprisepremium", "NOPE"])
    assert [s["skuPartNumber"] for s in result["skus"]] == ["CRMSTANDARD", "ENTERPRISEPREMIUM"]
    assert result["unknown_skus"] == ["NOPE"]

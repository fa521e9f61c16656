"""What the fleet and audit tests rely on.

- POST /scenario "skus": the tenant's seat count changes (fact sheet §3: free = prepaidUnits.enabled - consumedUnits).
- The audit's reads: one systemusers query per environment for the non-interactive users that are not application
  users, with their roles expanded (§5, §6, §8); a deleted Entra user answers 404 by id (§2) and is found in
  /directory/deletedItems (§2); its systemuser is disabled (§5: "same when disabled/deleted in Entra").
"""
from .conftest import GRAPH, SKU_PLAN1, UPN

AUDIT_QUERY = ("systemusers?$select=systemuserid,domainname,azureactivedirectoryobjectid,applicationid,accessmode,"
               "isdisabled,islicensed&$filter=accessmode eq 4 and applicationid eq null"
               "&$expand=systemuserroles_association($select=roleid,name)")


def _plan1(emu):
    r = emu.call("GET", f"{emu.ep['graph_url']}/v1.0/subscribedSkus", emu.token(GRAPH))
    assert r.status_code == 200, r.text
    return next(s for s in r.json()["value"] if s["skuId"] == SKU_PLAN1)


def test_scenario_sets_seats_and_graph_reports_them(emu):
    before = _plan1(emu)
    assert before["prepaidUnits"]["enabled"] == 3 and before["consumedUnits"] == 1
    emu.scenario({"skus": [{"skuPartNumber": "DYN365_ENTERPRISE_PLAN1", "seats": 6}]})
    after = _plan1(emu)
    assert after["prepaidUnits"]["enabled"] == 6 and after["consumedUnits"] == 1  # consumption unchanged
    plan1 = next(s for s in emu.state()["skus"] if s["skuId"] == SKU_PLAN1)
    assert (plan1["enabled"], plan1["consumed"], plan1["free"]) == (6, 1, 5)


def test_scenario_rejects_unknown_sku_and_negative_seats(emu):
    for body in ({"skus": [{"skuPartNumber": "NO_SUCH_SKU", "seats": 1}]},
                 {"skus": [{"skuPartNumber": "DYN365_ENTERPRISE_PLAN1", "seats": -1}]}):
        r = emu.http.post(f"{emu.ep['control_url']}/scenario", json=body)
        assert r.status_code == 400, body
    assert _plan1(emu)["prepaidUnits"]["enabled"] == 3


def test_audit_reads_non_interactive_users_and_a_deleted_account(emu):
    emu.scenario({
        "users": [{"userPrincipalName": "aud-a" + UPN, "usageLocation": "US", "licenses": ["DYN365_ENTERPRISE_PLAN1"]},
                  {"userPrincipalName": "aud-b" + UPN, "usageLocation": "US"}],
        "environments": {"contoso-dev": {"systemusers": [
            {"user": "aud-a" + UPN, "accessmode": 4, "roles": ["System Administrator"]},
            {"user": "aud-b" + UPN, "accessmode": 4}]}}})
    r = emu.dv("GET", AUDIT_QUERY)
    assert r.status_code == 200, r.text
    rows = {row["domainname"]: row for row in r.json()["value"]}
    # Application users are non-interactive too (accessmode 4) but are left out by the filter.
    assert sorted(rows) == ["aud-a" + UPN, "aud-b" + UPN]
    assert [x["name"] for x in rows["aud-a" + UPN]["systemuserroles_association"]] == ["System Administrator"]
    assert rows["aud-b" + UPN]["systemuserroles_association"] == []
    assert not rows["aud-b" + UPN]["isdisabled"]  # non-interactive: enabled without a licence
    oid = rows["aud-b" + UPN]["azureactivedirectoryobjectid"]
    assert emu.graph("DELETE", f"users/{oid}").status_code == 204
    assert emu.graph("GET", f"users/{oid}?$select=id,accountEnabled").status_code == 404
    deleted = emu.graph("GET", f"directory/deletedItems/{oid}?$select=id,userPrincipalName,deletedDateTime")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["userPrincipalName"] == "aud-b" + UPN and deleted.json()["deletedDateTime"]
    assert emu.systemuser(oid)["isdisabled"] is True
    assert emu.graph("GET", "directory/deletedItems/0f0f0f0f-0000-0000-0000-000000000000").status_code == 404

"""Microsoft Graph users, licences, groups, throttling (fact sheet §2-§4)."""
import time

import pytest

from .conftest import GRAPH, LIMITED_CLIENT, SKU_E3, SKU_PLAN1, SKU_SALES, UPN

DEFAULT_PROPS = {"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                 "preferredLanguage", "surname", "userPrincipalName", "id"}


def assert_graph_error(r, status, code):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    assert set(err["innerError"]) >= {"date", "request-id", "client-request-id"}
    return err


def test_create_user_201_default_properties(emu):
    user = emu.create_user("adele")
    assert set(user) - {"@odata.context"} == DEFAULT_PROPS
    assert user["userPrincipalName"] == "adele" + UPN and user["id"]


@pytest.mark.parametrize("missing", ["accountEnabled", "displayName", "mailNickname", "userPrincipalName",
                                     "passwordProfile"])
def test_create_user_requires_properties(emu, missing):
    body = {"accountEnabled": True, "displayName": "X", "mailNickname": "x", "userPrincipalName": "x" + UPN,
            "passwordProfile": {"password": "P@ssw0rd!!"}}
    body.pop(missing)
    assert_graph_error(emu.graph("POST", "users", json=body), 400, "Request_BadRequest")


def test_duplicate_upn_and_soft_deleted_upn(emu):
    user = emu.create_user("dup")
    body = {"accountEnabled": True, "displayName": "D", "mailNickname": "dup2", "userPrincipalName": "DUP" + UPN,
            "passwordProfile": {"password": "P@ssw0rd!!"}}
    err = assert_graph_error(emu.graph("POST", "users", json=body), 400, "Request_BadRequest")
    assert err["message"] == "Another object with the same value for property userPrincipalName already exists."
    assert err["details"][0]["code"] == "ObjectConflict" and err["details"][0]["target"] == "userPrincipalName"
    assert emu.graph("DELETE", f"users/{user['id']}").status_code == 204
    # assumption knob deleted_user_blocks_upn (default true)
    assert_graph_error(emu.graph("POST", "users", json=body), 400, "Request_BadRequest")
    emu.knobs(deleted_user_blocks_upn=False)
    assert emu.graph("POST", "users", json=body).status_code == 201


def test_upn_domain_must_be_verified(emu):
    body = {"accountEnabled": True, "displayName": "D", "mailNickname": "d", "userPrincipalName": "d@fabrikam.com",
            "passwordProfile": {"password": "P@ssw0rd!!"}}
    assert_graph_error(emu.graph("POST", "users", json=body), 400, "Request_BadRequest")


def test_get_user_forms_and_select(emu):
    megan = emu.graph("GET", "users/megan" + UPN).json()
    assert set(megan) - {"@odata.context"} == DEFAULT_PROPS
    assert "accountEnabled" not in megan and "licenseAssignmentStates" not in megan
    assert emu.graph("GET", f"users/{megan['id']}").json()["id"] == megan["id"]
    assert emu.graph("GET", f"users('megan{UPN}')").json()["id"] == megan["id"]
    sel = emu.graph("GET", f"users/{megan['id']}?$select=displayName,accountEnabled,usageLocation,"
                           "assignedLicenses,licenseAssignmentStates").json()
    assert set(sel) == {"@odata.context", "displayName", "accountEnabled", "usageLocation", "assignedLicenses",
                        "licenseAssignmentStates"}
    assert sel["@odata.context"].endswith("users(displayName,accountEnabled,usageLocation,assignedLicenses,"
                                          "licenseAssignmentStates)/$entity")
    assert sel["licenseAssignmentStates"][0]["assignedByGroup"] is None
    assert_graph_error(emu.graph("GET", "users/nobody" + UPN), 404, "Request_ResourceNotFound")
    assert emu.graph("GET", "users/megan" + UPN + "?$select=nope").status_code == 400


def test_dollar_upn_needs_quoted_form(emu):
    emu.scenario({"users": [{"userPrincipalName": "$svc@contoso.onmicrosoft.com"}]})
    assert emu.graph("GET", "users('$svc@contoso.onmicrosoft.com')?$select=userPrincipalName").json()[
        "userPrincipalName"] == "$svc@contoso.onmicrosoft.com"


def test_list_filter_select_and_paging(emu):
    r = emu.graph("GET", f"users?$filter=userPrincipalName eq 'MEGAN{UPN}'&$select=id,userPrincipalName")
    assert [set(v) for v in r.json()["value"]] == [{"id", "userPrincipalName"}]
    seen, url = [], f"{emu.ep['graph_url']}/v1.0/users?$top=2&$select=id"
    while url:
        page = emu.call("GET", url, emu.token(GRAPH)).json()
        assert len(page["value"]) <= 2
        seen += [v["id"] for v in page["value"]]
        url = page.get("@odata.nextLink")
        assert not url or "$skiptoken" in url or "%24skiptoken" in url
    assert len(seen) == len(set(seen)) == 7


def test_patch_and_delete_and_deleted_items(emu):
    user = emu.create_user("temp", usage_location=None)
    assert emu.graph("PATCH", f"users/{user['id']}", json={"usageLocation": "NL", "jobTitle": "Bot"}).status_code == 204
    got = emu.graph("GET", f"users/{user['id']}?$select=usageLocation,jobTitle").json()
    assert got["usageLocation"] == "NL" and got["jobTitle"] == "Bot"
    assert emu.graph("PATCH", f"users/{user['id']}", json={"usageLocation": "Netherlands"}).status_code == 400
    assert emu.graph("DELETE", f"users/{user['id']}").status_code == 204
    assert emu.graph("GET", f"users/{user['id']}").status_code == 404
    deleted = emu.graph("GET", "directory/deletedItems/microsoft.graph.user").json()["value"]
    assert [d["id"] for d in deleted] == [user["id"]]
    assert emu.graph("DELETE", f"directory/deletedItems/{user['id']}").status_code == 204
    assert emu.graph("GET", "directory/deletedItems/microsoft.graph.user").json()["value"] == []
    assert_graph_error(emu.graph("PATCH", f"users/{user['id']}", json={}), 404, "Request_ResourceNotFound")


def test_restore_deleted_user(emu):
    user = emu.create_user("phoenix")
    emu.graph("DELETE", f"users/{user['id']}")
    assert emu.graph("POST", f"directory/deletedItems/{user['id']}/restore").status_code == 200
    assert emu.graph("GET", f"users/{user['id']}").status_code == 200


def test_eventual_consistency(emu):
    emu.knobs(eventual_consistency_seconds=0.6)
    user = emu.create_user("slowpoke")
    assert emu.graph("GET", f"users/{user['id']}").status_code == 404
    assert emu.graph("GET", f"users/slowpoke{UPN}").status_code == 404
    time.sleep(0.7)
    assert emu.graph("GET", f"users/{user['id']}").status_code == 200


def test_authentication_and_permissions(emu):
    r = emu.call("GET", f"{emu.ep['graph_url']}/v1.0/users", None)
    assert_graph_error(r, 401, "InvalidAuthenticationToken")
    r = emu.call("GET", f"{emu.ep['graph_url']}/v1.0/users", "garbage")
    assert_graph_error(r, 401, "InvalidAuthenticationToken")
    r = emu.call("GET", f"{emu.ep['graph_url']}/v1.0/users", emu.token(emu.dev))  # wrong audience
    assert_graph_error(r, 401, "InvalidAuthenticationToken")
    assert emu.graph("GET", "users", client=LIMITED_CLIENT).status_code == 200
    body = {"accountEnabled": True, "displayName": "L", "mailNickname": "l", "userPrincipalName": "l" + UPN,
            "passwordProfile": {"password": "P@ssw0rd!!"}}
    err = assert_graph_error(emu.graph("POST", "users", client=LIMITED_CLIENT, json=body), 403,
                             "Authorization_RequestDenied")
    assert err["message"] == "Insufficient privileges to complete the operation."
    assert emu.graph("GET", "subscribedSkus", client=LIMITED_CLIENT).status_code == 403
    megan = emu.graph("GET", "users/megan" + UPN).json()["id"]
    assert emu.graph("POST", f"users/{megan}/assignLicense", client=LIMITED_CLIENT,
                     json={"addLicenses": [], "removeLicenses": []}).status_code == 403


def test_expired_token_is_rejected(emu):
    emu.knobs(token_lifetime=1)
    token = emu.token_response(f"{GRAPH}/.default").json()["access_token"]
    time.sleep(1.1)
    r = emu.call("GET", f"{emu.ep['graph_url']}/v1.0/users", token)
    assert_graph_error(r, 401, "InvalidAuthenticationToken")


def test_subscribed_skus_shape_and_counts(emu):
    body = emu.graph("GET", "subscribedSkus").json()
    skus = {s["skuPartNumber"]: s for s in body["value"]}
    sales = skus["DYN365_ENTERPRISE_SALES"]
    assert sales["id"] == f"{emu.ep['tenant_id']}_{SKU_SALES}" and sales["skuId"] == SKU_SALES
    assert sales["consumedUnits"] == 2 and sales["prepaidUnits"] == {"enabled": 2, "lockedOut": 0, "suspended": 0,
                                                                     "warning": 0}
    assert skus["DYN365_ENTERPRISE_PLAN1"]["consumedUnits"] == 1
    assert {"servicePlanId", "servicePlanName", "provisioningStatus", "appliesTo"} == set(sales["servicePlans"][0])
    assert sales["appliesTo"] == "User" and sales["capabilityStatus"] == "Enabled"


def test_assign_license_validation(emu):
    user = emu.create_user("lic", usage_location=None)
    r = emu.graph("POST", f"users/{user['id']}/assignLicense", json={"addLicenses": [{"skuId": SKU_PLAN1}]})
    assert_graph_error(r, 400, "Request_BadRequest")  # removeLicenses missing
    err = assert_graph_error(emu.assign(user["id"], add=[SKU_PLAN1]), 400, "Request_BadRequest")
    assert err["message"] == "License assignment cannot be done for user with invalid usage location."
    emu.graph("PATCH", f"users/{user['id']}", json={"usageLocation": "US"})
    err = assert_graph_error(emu.assign(user["id"], add=[SKU_SALES]), 400, "Request_BadRequest")
    assert "does not have any available licenses" in err["message"]
    assert_graph_error(emu.assign(user["id"], add=["00000000-0000-0000-0000-000000000000"]), 400,
                       "Request_BadRequest")
    alex = emu.graph("GET", "users/alex" + UPN).json()["id"]
    err = assert_graph_error(emu.assign(alex, remove=[SKU_SALES]), 400, "Request_BadRequest")
    assert err["message"] == ("User license is inherited from a group membership and it cannot be removed "
                              "directly from the user.")


def test_assign_license_success_updates_states_and_counts(emu):
    user = emu.create_user("licok")
    r = emu.assign(user["id"], add=[SKU_PLAN1, SKU_E3])
    assert r.status_code == 200 and r.json()["id"] == user["id"]
    sel = emu.graph("GET", f"users/{user['id']}?$select=assignedLicenses,licenseAssignmentStates").json()
    assert {a["skuId"] for a in sel["assignedLicenses"]} == {SKU_PLAN1, SKU_E3}
    assert all(s["assignedByGroup"] is None and s["state"] == "Active" for s in sel["licenseAssignmentStates"])
    skus = {s["skuId"]: s for s in emu.graph("GET", "subscribedSkus").json()["value"]}
    assert skus[SKU_PLAN1]["consumedUnits"] == 2
    details = emu.graph("GET", f"users/{user['id']}/licenseDetails").json()["value"]
    assert {d["skuPartNumber"] for d in details} == {"DYN365_ENTERPRISE_PLAN1", "ENTERPRISEPACK"}
    assert emu.assign(user["id"], remove=[SKU_E3]).status_code == 200
    assert {a["skuId"] for a in emu.graph("GET", f"users/{user['id']}?$select=assignedLicenses").json()[
        "assignedLicenses"]} == {SKU_PLAN1}


def test_disabled_plans_are_kept(emu):
    user = emu.create_user("partial")
    plan = "d56f3deb-50d8-465a-bedb-f079817ccac1"
    r = emu.graph("POST", f"users/{user['id']}/assignLicense",
                  json={"addLicenses": [{"skuId": SKU_PLAN1, "disabledPlans": [plan]}], "removeLicenses": []})
    assert r.status_code == 200
    st = emu.graph("GET", f"users/{user['id']}?$select=licenseAssignmentStates").json()["licenseAssignmentStates"]
    assert st[0]["disabledPlans"] == [plan]
    details = emu.graph("GET", f"users/{user['id']}/licenseDetails").json()["value"][0]
    assert {p["servicePlanId"]: p["provisioningStatus"] for p in details["servicePlans"]}[plan] == "Disabled"


def test_group_based_licence_and_count_violation(emu):
    group = emu.graph("GET", "groups/4a91a7ad-9dc2-45e1-bdf4-2f686e1678bb").json()
    assert group["displayName"] == "Dynamics Sales"
    alex = emu.graph("GET", f"users/alex{UPN}?$select=licenseAssignmentStates").json()
    assert alex["licenseAssignmentStates"][0]["assignedByGroup"] == group["id"]
    user = emu.create_user("grp")
    r = emu.graph("POST", f"groups/{group['id']}/members/$ref",
                  json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"})
    assert r.status_code == 204
    st = emu.graph("GET", f"users/{user['id']}?$select=licenseAssignmentStates").json()["licenseAssignmentStates"]
    assert st[0]["state"] == "Error" and st[0]["error"] == "CountViolation"  # no free seat
    lynne = emu.graph("GET", "users/lynne" + UPN).json()["id"]
    assert emu.graph("DELETE", f"groups/{group['id']}/members/{lynne}/$ref").status_code == 204
    st = emu.graph("GET", f"users/{user['id']}?$select=licenseAssignmentStates").json()["licenseAssignmentStates"]
    assert st[0]["state"] == "Active"
    members = emu.graph("GET", f"groups/{group['id']}/members?$select=id").json()["value"]
    assert {m["id"] for m in members} == {user["id"], emu.graph("GET", "users/alex" + UPN).json()["id"]}


def test_write_throttling_fractional_retry_after(emu):
    emu.knobs(graph_write_quota=2, graph_write_window=5)
    user = emu.create_user("thr")
    assert emu.graph("PATCH", f"users/{user['id']}", json={"jobTitle": "a"}).status_code == 204
    r = emu.graph("PATCH", f"users/{user['id']}", json={"jobTitle": "b"})
    assert r.status_code == 429
    assert "." in r.headers["Retry-After"] and 0 < float(r.headers["Retry-After"]) <= 5
    err = r.json()["error"]
    assert err["code"] == "TooManyRequests" and err["innerError"]["status"] == "429"
    assert emu.graph("GET", f"users/{user['id']}").status_code == 200  # reads are not counted


def test_batch(emu):
    r = emu.graph("POST", "$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/users/megan" + UPN + "?$select=id"},
        {"id": "2", "method": "GET", "url": "/users/ghost" + UPN},
        {"id": "3", "method": "GET", "url": "/subscribedSkus", "dependsOn": ["2"]}]})
    by_id = {x["id"]: x for x in r.json()["responses"]}
    assert by_id["1"]["status"] == 200 and by_id["2"]["status"] == 404 and by_id["3"]["status"] == 424
    too_many = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]
    assert emu.graph("POST", "$batch", json={"requests": too_many}).status_code == 400

"""Graph onPremisesExtensionAttributes / onPremisesSyncEnabled (fact sheet §2b) and the non-interactive cap
reported by RetrieveOrganizationResources (§5)."""
from .conftest import SKU_E3, UPN
from .test_graph import DEFAULT_PROPS, assert_graph_error

KEYS = [f"extensionAttribute{i}" for i in range(1, 16)]
EXT = "onPremisesExtensionAttributes"
ADVANCED = {"ConsistencyLevel": "eventual"}
ON_PREM_MESSAGE = ("Unable to update the specified properties for on-premises mastered Directory Sync objects or "
                   "objects currently undergoing migration.")


def ext_of(emu, uid):
    r = emu.graph("GET", f"users/{uid}?$select=id,{EXT}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"@odata.context", "id", EXT}
    return body[EXT]


def state_user(emu, upn):
    return next(u for u in emu.state()["users"] if u["userPrincipalName"] == upn)


def test_create_with_attribute_in_the_post_and_select_shape(emu):
    user = emu.create_user("mark", **{EXT: {"extensionAttribute15": "d365.identity:managed"}})
    # the create response keeps the default property set
    assert set(user) - {"@odata.context"} == DEFAULT_PROPS
    ext = ext_of(emu, user["id"])
    assert list(ext) == KEYS  # all 15 keys, nulls included
    assert ext["extensionAttribute15"] == "d365.identity:managed"
    assert all(ext[k] is None for k in KEYS[:14])
    # not part of the default property set, nor of a $select that does not name it
    assert EXT not in emu.graph("GET", f"users/{user['id']}").json()
    assert EXT not in emu.graph("GET", f"users/{user['id']}?$select=id,displayName").json()
    # also in lists when selected
    rows = emu.graph("GET", f"users?$select=id,{EXT}&$filter=userPrincipalName eq 'mark{UPN}'").json()["value"]
    assert rows == [{"id": user["id"], EXT: ext}]
    # nor in the user body assignLicense returns
    r = emu.assign(user["id"], add=[SKU_E3])
    assert r.status_code == 200 and EXT not in r.json() and "onPremisesSyncEnabled" not in r.json()


def test_default_users_have_all_null_attributes_and_cloud_only_sync_flag(emu):
    body = emu.graph("GET", f"users/megan{UPN}?$select=id,{EXT},onPremisesSyncEnabled").json()
    assert body[EXT] == {k: None for k in KEYS}
    assert body["onPremisesSyncEnabled"] is None


def test_patch_sets_clears_and_keeps(emu):
    user = emu.create_user("patchy", **{EXT: {"extensionAttribute1": "one", "extensionAttribute2": "two"}})
    r = emu.graph("PATCH", f"users/{user['id']}", json={EXT: {"extensionAttribute15": "mine"}})
    assert r.status_code == 204 and not r.content
    ext = ext_of(emu, user["id"])
    assert (ext["extensionAttribute1"], ext["extensionAttribute2"], ext["extensionAttribute15"]) == \
        ("one", "two", "mine")
    patch = {EXT: {"extensionAttribute1": None, "extensionAttribute15": "mine-2"}}
    r = emu.graph("PATCH", f"users/{user['id']}", json=patch)
    assert r.status_code == 204
    ext = ext_of(emu, user["id"])
    assert ext["extensionAttribute1"] is None  # null clears
    assert ext["extensionAttribute2"] == "two"  # not named: kept
    assert ext["extensionAttribute15"] == "mine-2"
    # other properties in the same PATCH still work; the attributes are untouched when not named
    assert emu.graph("PATCH", f"users/{user['id']}", json={"jobTitle": "Bot"}).status_code == 204
    assert ext_of(emu, user["id"]) == ext


def test_value_length_limit_1024(emu):
    user = emu.create_user("longy")
    ok = emu.graph("PATCH", f"users/{user['id']}", json={EXT: {"extensionAttribute3": "x" * 1024}})
    assert ok.status_code == 204, ok.text
    err = assert_graph_error(emu.graph("PATCH", f"users/{user['id']}",
                                       json={EXT: {"extensionAttribute3": "y" * 1025}}), 400, "Request_BadRequest")
    assert "extensionAttribute3" in err["message"]
    assert ext_of(emu, user["id"])["extensionAttribute3"] == "x" * 1024  # refused request changed nothing
    body = {"accountEnabled": True, "displayName": "L2", "mailNickname": "longy2", "userPrincipalName": "longy2" + UPN,
            "passwordProfile": {"password": "P@ssw0rd!!"}, EXT: {"extensionAttribute3": "z" * 1025}}
    assert_graph_error(emu.graph("POST", "users", json=body), 400, "Request_BadRequest")
    assert emu.graph("GET", f"users/longy2{UPN}").status_code == 404  # no half-created user


def test_unknown_or_invalid_keys_inside_the_object(emu):
    user = emu.create_user("oddkeys")
    for bad in ({"extensionAttribute16": "x"}, {"extensionAttribute0": "x"}, {"customAttribute1": "x"},
                {"extensionAttribute1": 5}, "not-an-object"):
        assert_graph_error(emu.graph("PATCH", f"users/{user['id']}", json={EXT: bad}), 400, "Request_BadRequest")
    assert ext_of(emu, user["id"]) == {k: None for k in KEYS}
    # onPremisesSyncEnabled is read-only
    assert_graph_error(emu.graph("PATCH", f"users/{user['id']}", json={"onPremisesSyncEnabled": True}),
                       400, "Request_BadRequest")


def test_synced_user_is_refused_and_scenario_keys(emu):
    emu.scenario({"users": [
        {"userPrincipalName": "synced" + UPN, "on_premises_sync_enabled": True,
         "extension_attributes": {15: "onprem-value", "extensionAttribute2": "exchange"}},
        {"userPrincipalName": "oncesynced" + UPN, "on_premises_sync_enabled": False,
         "extension_attributes": {"15": "old"}}]})
    synced = emu.graph("GET", f"users/synced{UPN}?$select=id,onPremisesSyncEnabled,{EXT}").json()
    assert synced["onPremisesSyncEnabled"] is True
    assert synced[EXT]["extensionAttribute15"] == "onprem-value"
    assert synced[EXT]["extensionAttribute2"] == "exchange"
    err = assert_graph_error(emu.graph("PATCH", f"users/{synced['id']}",
                                       json={"displayName": "Renamed", EXT: {"extensionAttribute15": "mine"}}),
                             400, "Request_BadRequest")
    assert err["message"] == ON_PREM_MESSAGE
    after = emu.graph("GET", f"users/{synced['id']}?$select=displayName,{EXT}").json()
    assert after[EXT] == synced[EXT] and after["displayName"] != "Renamed"  # nothing applied
    # a user no longer synced (false) is not mastered on-premises
    once = emu.graph("GET", f"users/oncesynced{UPN}?$select=id,onPremisesSyncEnabled").json()
    assert once["onPremisesSyncEnabled"] is False
    assert emu.graph("PATCH", f"users/{once['id']}", json={EXT: {"extensionAttribute15": None}}).status_code == 204
    # assumption knob: the error of the refusal
    emu.knobs(onprem_mastered_error={"status": 403, "code": "Authorization_RequestDenied"})
    assert_graph_error(emu.graph("PATCH", f"users/{synced['id']}", json={EXT: {"extensionAttribute15": "x"}}),
                       403, "Authorization_RequestDenied")


def test_scenario_rejects_bad_extension_attribute_keys(emu):
    for bad in ({16: "x"}, {"nope": "x"}, {1: 3}):
        r = emu.http.post(f"{emu.ep['control_url']}/scenario",
                          json={"users": [{"userPrincipalName": "bad" + UPN, "extension_attributes": bad}]})
        assert r.status_code == 400, r.text


def test_filter_needs_consistency_level_and_count(emu):
    a = emu.create_user("filta", **{EXT: {"extensionAttribute15": "d365.identity"}})
    emu.create_user("filtb", **{EXT: {"extensionAttribute15": "someone-else"}})
    c = emu.create_user("filtc", **{EXT: {"extensionAttribute15": "d365.identity"}})
    emu.create_user("filtd")
    flt = f"$filter={EXT}/extensionAttribute15 eq 'd365.identity'"
    r = emu.graph("GET", f"users?{flt}&$count=true&$select=id,userPrincipalName,{EXT}", headers=dict(ADVANCED))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.count"] == 2
    assert sorted(u["id"] for u in body["value"]) == sorted([a["id"], c["id"]])
    # paging keeps the total count, the next link repeats $count
    r = emu.graph("GET", f"users?{flt}&$count=true&$top=1", headers=dict(ADVANCED))
    assert r.json()["@odata.count"] == 2 and len(r.json()["value"]) == 1 and "@odata.nextLink" in r.json()
    # without the header or without $count=true: 400 (assumption)
    assert_graph_error(emu.graph("GET", f"users?{flt}&$count=true"), 400, "Request_UnsupportedQuery")
    assert_graph_error(emu.graph("GET", f"users?{flt}", headers=dict(ADVANCED)), 400, "Request_UnsupportedQuery")
    # unknown sub-property
    assert_graph_error(emu.graph("GET", f"users?$filter={EXT}/extensionAttribute16 eq 'x'&$count=true",
                                 headers=dict(ADVANCED)), 400, "Request_UnsupportedQuery")
    # assumption knob off: the plain query works too
    emu.knobs(extension_attribute_filter_needs_advanced_query=False)
    r = emu.graph("GET", f"users?{flt}")
    assert r.status_code == 200 and len(r.json()["value"]) == 2 and "@odata.count" not in r.json()


def test_state_shows_attributes_and_sync_flag(emu):
    emu.scenario({"users": [{"userPrincipalName": "st" + UPN, "on_premises_sync_enabled": True,
                             "extension_attributes": {15: "x"}}]})
    u = state_user(emu, "st" + UPN)
    assert u["onPremisesExtensionAttributes"] == {"extensionAttribute15": "x"}
    assert u["onPremisesSyncEnabled"] is True
    attributes = {"extensionAttribute1": "a", "extensionAttribute10": "b", "extensionAttribute2": None}
    created = emu.create_user("st2", **{EXT: attributes})
    u = state_user(emu, "st2" + UPN)
    assert u["onPremisesExtensionAttributes"] == {"extensionAttribute1": "a", "extensionAttribute10": "b"}
    assert u["onPremisesSyncEnabled"] is None
    emu.graph("PATCH", f"users/{created['id']}", json={EXT: {"extensionAttribute1": None}})
    assert state_user(emu, "st2" + UPN)["onPremisesExtensionAttributes"] == {"extensionAttribute10": "b"}
    assert state_user(emu, "megan" + UPN)["onPremisesExtensionAttributes"] == {}


def test_soft_deleted_user_keeps_attributes_through_restore(emu):
    user = emu.create_user("gone", **{EXT: {"extensionAttribute15": "keep-me"}})
    assert emu.graph("DELETE", f"users/{user['id']}").status_code == 204
    item = emu.graph("GET", f"directory/deletedItems/{user['id']}?$select=id,{EXT}").json()
    assert item[EXT]["extensionAttribute15"] == "keep-me" and list(item[EXT]) == KEYS
    listed = emu.graph("GET", f"directory/deletedItems/microsoft.graph.user?$select=id,{EXT}").json()["value"]
    assert {"id": user["id"], EXT: item[EXT]} in listed
    deleted = state_user(emu, "gone" + UPN)
    assert deleted["deleted"] and deleted["onPremisesExtensionAttributes"] == {"extensionAttribute15": "keep-me"}
    assert emu.graph("POST", f"directory/deletedItems/{user['id']}/restore").status_code == 200
    assert ext_of(emu, user["id"])["extensionAttribute15"] == "keep-me"


def test_extension_attributes_through_batch(emu):
    user = emu.create_user("batchy")
    r = emu.graph("POST", "$batch", json={"requests": [
        {"id": "1", "method": "PATCH", "url": f"/users/{user['id']}", "headers": {"Content-Type": "application/json"},
         "body": {EXT: {"extensionAttribute15": "b"}}},
        {"id": "2", "dependsOn": ["1"], "method": "GET",
         "url": f"/users?$filter={EXT}/extensionAttribute15 eq 'b'&$count=true&$select=id",
         "headers": {"ConsistencyLevel": "eventual"}}]})
    res = {x["id"]: x for x in r.json()["responses"]}
    assert res["1"]["status"] == 204
    assert res["2"]["status"] == 200 and res["2"]["body"]["value"] == [{"id": user["id"]}], res["2"]


def test_retrieve_organization_resources_follows_the_knob(emu):
    res = emu.dv("GET", "RetrieveOrganizationResources()").json()["OrganizationResources"]
    assert res["MaxNumberOfNonInteractiveUsers"] == 7
    emu.knobs(max_noninteractive_users=1)
    for env in (emu.dev, emu.prod):
        res = emu.dv("GET", "RetrieveOrganizationResources()", env).json()["OrganizationResources"]
        assert res["MaxNumberOfNonInteractiveUsers"] == 1
    # the reported cap is the enforced cap
    emu.scenario({"users": [{"userPrincipalName": f"cap{i}{UPN}", "usageLocation": "US"} for i in range(2)]})
    ids = []
    for i in range(2):
        oid = emu.graph("GET", f"users/cap{i}{UPN}").json()["id"]
        assert emu.dv("PATCH", f"systemusers({oid})", json={"azureactivedirectoryobjectid": oid,
                                                            "domainname": f"cap{i}{UPN}"}).status_code == 204
        ids.append(oid)
    assert emu.dv("PATCH", f"systemusers({ids[0]})", json={"accessmode": 4},
                  headers={"If-Match": "*"}).status_code == 204
    r = emu.dv("PATCH", f"systemusers({ids[1]})", json={"accessmode": 4}, headers={"If-Match": "*"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "0x80048d14" and "(1)" in r.json()["error"]["message"]
    res = emu.dv("GET", "RetrieveOrganizationResources()").json()["OrganizationResources"]
    assert res["CurrentNumberOfNonInteractiveUsers"] == 1 == res["MaxNumberOfNonInteractiveUsers"]


def test_request_log_counts_writes_per_service(emu):
    user = emu.create_user("logged")
    emu.graph("PATCH", f"users/{user['id']}", json={EXT: {"extensionAttribute15": "x"}})
    emu.graph("GET", f"users/{user['id']}?$select=id,{EXT}")
    log = emu.requests_log()
    writes = [e for e in log if e["service"] == "graph" and e["method"] != "GET"]
    assert [(e["method"], e["status"]) for e in writes] == [("POST", 201), ("PATCH", 204)]

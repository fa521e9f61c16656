"""Dataverse Web API v9.2 (fact sheet §5, §6, §8)."""
import threading

from .conftest import LIMITED_CLIENT, SKU_PLAN1, SYSADMIN_TEMPLATE, UPN

MEGAN = "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f"
ALEX = "b7beb2d6-146a-4cd8-903f-b64910f61a7d"


def dv_error(r, status, code=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"code", "message"}
    if code is not None:
        assert err["code"] == code, err
    return err


def root_bu(emu, env=None):
    return emu.dv("GET", "businessunits?$select=businessunitid,name&$filter=parentbusinessunitid eq null",
                  env).json()["value"][0]["businessunitid"]


def test_whoami_pascal_case(emu):
    body = emu.dv("GET", "WhoAmI()").json()
    assert set(body) == {"@odata.context", "BusinessUnitId", "UserId", "OrganizationId"}
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
    assert emu.dv("GET", "WhoAmI").json()["UserId"] == body["UserId"]
    me = emu.dv("GET", f"systemusers({body['UserId']})?$select=applicationid").json()
    assert me["applicationid"] == emu.ep["client_id"]


def test_auth_errors(emu):
    r = emu.call("GET", f"{emu.dev}/api/data/v9.2/WhoAmI()", None)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    r = emu.call("GET", f"{emu.dev}/api/data/v9.2/WhoAmI()", emu.token(emu.prod))  # other environment's token
    assert r.status_code == 401
    r = emu.dv("GET", "WhoAmI()", client=LIMITED_CLIENT)  # no application user in the environment
    dv_error(r, 403, "0x80072560")


def test_systemuser_filters_select_etag(emu):
    base = "systemusers?$select=systemuserid,domainname,accessmode,_businessunitid_value"
    by_oid = emu.dv("GET", f"{base}&$filter=azureactivedirectoryobjectid eq {MEGAN}").json()
    assert by_oid["@odata.context"].endswith("systemusers(systemuserid,domainname,accessmode,_businessunitid_value)")
    row = by_oid["value"][0]
    assert set(row) == {"@odata.etag", "systemuserid", "domainname", "accessmode", "_businessunitid_value"}
    assert row["@odata.etag"].startswith('W/"')
    by_upn = emu.dv("GET", f"{base}&$filter=domainname eq 'megan{UPN}'").json()["value"]
    assert [r["systemuserid"] for r in by_upn] == [row["systemuserid"]]
    combo = emu.dv("GET", f"{base}&$filter=systemuserid eq {row['systemuserid']} and accessmode eq 0").json()
    assert len(combo["value"]) == 1
    apps = emu.dv("GET", "systemusers?$select=applicationid&$filter=accessmode eq 4").json()["value"]
    assert len(apps) == 3 and all(a["applicationid"] for a in apps)
    one = emu.dv("GET", f"systemusers({row['systemuserid']})?$select=domainname").json()
    assert one["domainname"] == "megan" + UPN and one["systemuserid"] == row["systemuserid"]
    dv_error(emu.dv("GET", "systemusers(00000000-0000-0000-0000-000000000009)"), 404, "0x80040217")
    dv_error(emu.dv("GET", "systemusers?$select=nosuchcolumn"), 400, "0x80060888")
    dv_error(emu.dv("GET", "systemusers?$filter=nosuchcolumn eq 1"), 400, "0x80060888")


def test_expand_roles_and_role_copies(emu):
    rows = emu.dv("GET", f"systemusers?$filter=azureactivedirectoryobjectid eq {MEGAN}&$select=systemuserid"
                         "&$expand=systemuserroles_association($select=name,roleid)").json()["value"]
    assert [r["name"] for r in rows[0]["systemuserroles_association"]] == ["Salesperson"]
    admins = emu.dv("GET", f"roles?$select=roleid,_businessunitid_value&$filter=_roletemplateid_value eq "
                           f"{SYSADMIN_TEMPLATE}").json()["value"]
    assert len(admins) == 2 and len({a["roleid"] for a in admins}) == 2  # one per BU, different ids
    named = emu.dv("GET", "roles?$select=roleid&$filter=name eq 'System Administrator' and "
                          f"_businessunitid_value eq {root_bu(emu)}").json()["value"]
    assert len(named) == 1


def test_business_units_root_filter(emu):
    bus = emu.dv("GET", "businessunits?$select=name,_parentbusinessunitid_value").json()["value"]
    assert {b["name"] for b in bus} == {"contoso-dev", "Sales EU"}
    root = emu.dv("GET", "businessunits?$filter=parentbusinessunitid eq null").json()["value"]
    assert [b["name"] for b in root] == ["contoso-dev"] and root[0]["_parentbusinessunitid_value"] is None


def test_associate_list_disassociate(emu):
    alex = emu.systemuser(ALEX)
    role = emu.role_id("System Administrator", alex["_businessunitid_value"])
    r = emu.associate(alex["systemuserid"], role)
    assert r.status_code == 204
    listed = emu.dv("GET", f"systemusers({alex['systemuserid']})/systemuserroles_association"
                           "?$select=roleid,name,_businessunitid_value,_roletemplateid_value").json()["value"]
    assert [x["roleid"] for x in listed] == [role] and listed[0]["_roletemplateid_value"] == SYSADMIN_TEMPLATE
    dv_error(emu.associate(alex["systemuserid"], role), 400, "0x80040237")  # assumption: duplicate key
    emu.knobs(role_reassociate="noop")
    assert emu.associate(alex["systemuserid"], role).status_code == 204
    r = emu.dv("DELETE", f"systemusers({alex['systemuserid']})/systemuserroles_association({role})/$ref")
    assert r.status_code == 204
    assert emu.associate(alex["systemuserid"], role).status_code == 204
    r = emu.dv("DELETE", f"systemusers({alex['systemuserid']})/systemuserroles_association/$ref",
               params={"$id": f"{emu.dev}/api/data/v9.2/roles({role})"})
    assert r.status_code == 204
    assert emu.dv("GET", f"systemusers({alex['systemuserid']})/systemuserroles_association").json()["value"] == []


def test_role_from_other_business_unit_is_refused(emu):
    megan = emu.systemuser(MEGAN)  # lives in Sales EU
    root_role = emu.role_id("System Administrator", root_bu(emu))
    dv_error(emu.associate(megan["systemuserid"], root_role), 400, "0x80048d19")
    emu.knobs(cross_bu_role_assignment=True)
    assert emu.associate(megan["systemuserid"], root_role).status_code == 204


def test_role_assignment_on_disabled_user(emu):
    alex = emu.systemuser(ALEX)
    assert emu.dv("PATCH", f"systemusers({alex['systemuserid']})", json={"isdisabled": True},
                  headers={"If-Match": "*"}).status_code == 204
    role = emu.role_id("Basic User", alex["_businessunitid_value"])
    dv_error(emu.associate(alex["systemuserid"], role), 400, "0x80040225")
    emu.scenario({"environments": {"contoso-dev": {"allow_role_assignment_on_disabled_users": True}}})
    assert emu.associate(alex["systemuserid"], role).status_code == 204


def test_patch_if_match_and_upsert(emu):
    missing = "11111111-2222-3333-4444-555555555555"
    r = emu.dv("PATCH", f"systemusers({missing})", json={"firstname": "X"}, headers={"If-Match": "*"})
    assert dv_error(r, 404)["code"] == ""
    r = emu.dv("PATCH", f"systemusers({missing})", json={"firstname": "X"})  # no If-Match: upsert creates
    assert r.status_code == 204 and missing in r.headers["OData-EntityId"]
    assert emu.dv("GET", f"systemusers({missing})?$select=firstname").json()["firstname"] == "X"
    row = emu.dv("GET", f"systemusers({missing})?$select=firstname").json()
    r = emu.dv("PATCH", f"systemusers({missing})", json={"firstname": "Y"}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 412
    r = emu.dv("PATCH", f"systemusers({missing})", json={"firstname": "Y"},
               headers={"If-Match": row["@odata.etag"], "Prefer": "return=representation"})
    assert r.status_code == 200 and r.json()["firstname"] == "Y"
    r = emu.dv("PATCH", f"systemusers({missing})", json={"nosuch": 1}, headers={"If-Match": "*"})
    dv_error(r, 400, "0x80060888")


def test_accessmode_validation_and_cap(emu):
    alex = emu.systemuser(ALEX)
    for bad in (6, -1, "4"):
        r = emu.dv("PATCH", f"systemusers({alex['systemuserid']})", json={"accessmode": bad},
                   headers={"If-Match": "*"})
        assert r.status_code == 400
    # fill up to the cap of 7 with users created through the scenario
    users = [{"userPrincipalName": f"ni{i}{UPN}", "usageLocation": "US", "licenses": ["ENTERPRISEPACK"]}
             for i in range(8)]
    emu.scenario({"users": users})
    ids = []
    for i in range(8):
        oid = emu.graph("GET", f"users/ni{i}{UPN}").json()["id"]
        r = emu.dv("PATCH", f"systemusers({oid})", json={"azureactivedirectoryobjectid": oid,
                                                         "domainname": f"ni{i}{UPN}"})
        assert r.status_code == 204
        ids.append(oid)
    for oid in ids[:7]:
        r = emu.dv("PATCH", f"systemusers({oid})", json={"accessmode": 4}, headers={"If-Match": "*"})
        assert r.status_code == 204, r.text
    res = emu.dv("GET", "RetrieveOrganizationResources()").json()["OrganizationResources"]
    assert res["CurrentNumberOfNonInteractiveUsers"] == 7 and res["MaxNumberOfNonInteractiveUsers"] == 7
    err = dv_error(emu.dv("PATCH", f"systemusers({ids[7]})", json={"accessmode": 4}, headers={"If-Match": "*"}),
                   400, "0x80048d14")
    assert "7" in err["message"]


def test_accessmode_change_needs_system_administrator(emu):
    alex = emu.systemuser(ALEX)
    token = emu.user_token("alex" + UPN, emu.dev).json()["access_token"]  # alex has no role
    r = emu.call("PATCH", f"{emu.dev}/api/data/v9.2/systemusers({alex['systemuserid']})", token,
                 json={"accessmode": 4}, headers={"If-Match": "*"})
    dv_error(r, 403, "0x80048d2f")
    emu.knobs(app_user_may_change_access_mode=False)
    r = emu.dv("PATCH", f"systemusers({alex['systemuserid']})", json={"accessmode": 4}, headers={"If-Match": "*"})
    dv_error(r, 403, "0x80048d2f")
    emu.knobs(app_user_may_change_access_mode=True)
    r = emu.dv("PATCH", f"systemusers({alex['systemuserid']})", json={"accessmode": 4}, headers={"If-Match": "*"})
    assert r.status_code == 204


def test_paging_with_maxpagesize(emu):
    r = emu.dv("GET", "roles?$select=name", headers={"Prefer": "odata.maxpagesize=3"})
    body = r.json()
    assert len(body["value"]) == 3 and r.headers["Preference-Applied"] == "odata.maxpagesize=3"
    names = [v["name"] for v in body["value"]]
    while "@odata.nextLink" in body:
        body = emu.call("GET", body["@odata.nextLink"], emu.token(emu.dev),
                        headers={"Prefer": "odata.maxpagesize=3"}).json()
        names += [v["name"] for v in body["value"]]
    assert len(names) == 8  # 4 roles x 2 business units


def test_current_organization_and_resources(emu):
    r = emu.dv("GET", "RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')")
    detail = r.json()["Detail"]
    assert detail["EnvironmentId"] == emu.ep["environment_ids"][emu.dev]
    assert detail["TenantId"] == emu.ep["tenant_id"] and detail["UrlName"] == "contoso-dev"
    assert {"OrganizationId", "UniqueName", "FriendlyName", "Endpoints"} <= set(detail)
    org = emu.dv("GET", "WhoAmI()").json()["OrganizationId"]
    assert detail["OrganizationId"] == org


def test_create_application_user(emu):
    limited = LIMITED_CLIENT[0]
    r = emu.dv("POST", "systemusers", json={"applicationid": limited, "accessmode": 4, "isdisabled": False,
                                            "businessunitid@odata.bind": f"/businessunits({root_bu(emu)})"})
    assert r.status_code == 204
    su = r.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    role = emu.role_id("Basic User", root_bu(emu))
    assert emu.associate(su, role).status_code == 204
    assert emu.dv("GET", "WhoAmI()", client=LIMITED_CLIENT).json()["UserId"] == su


def test_request_limit_0x80072322(emu):
    emu.knobs(dataverse_request_limit=3)
    codes = [emu.dv("GET", "WhoAmI()").status_code for dummy in range(4)]
    assert codes == [200, 200, 200, 429]
    r = emu.dv("GET", "WhoAmI()")
    dv_error(r, 429, "0x80072322")
    assert int(r.headers["Retry-After"]) >= 1
    assert emu.dv("GET", "WhoAmI()", env=emu.prod).status_code == 200  # per environment


def test_concurrency_limit_0x80072326(emu):
    emu.knobs(dataverse_concurrency_limit=1, latency_ms=300)
    emu.token(emu.dev)
    results = []

    def call():
        results.append(emu.dv("GET", "WhoAmI()"))
    threads = [threading.Thread(target=call) for dummy in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 200 and 429 in codes
    assert any(r.status_code == 429 and r.json()["error"]["code"] == "0x80072326" for r in results)


def test_disabled_caller_is_refused(emu):
    alex = emu.systemuser(ALEX)
    token = emu.user_token("alex" + UPN, emu.dev).json()["access_token"]
    assert emu.call("GET", f"{emu.dev}/api/data/v9.2/WhoAmI()", token).status_code == 200
    emu.dv("PATCH", f"systemusers({alex['systemuserid']})", json={"isdisabled": True}, headers={"If-Match": "*"})
    dv_error(emu.call("GET", f"{emu.dev}/api/data/v9.2/WhoAmI()", token), 403)
    assert SKU_PLAN1


def test_guid_columns_take_unquoted_guids(emu):
    r = emu.dv("GET", f"systemusers?$filter=azureactivedirectoryobjectid eq '{MEGAN}'")
    assert "incompatible types" in dv_error(r, 400, "0x80060888")["message"]
    r = emu.dv("GET", "systemusers?$filter=accessmode eq '4'")
    dv_error(r, 400, "0x80060888")


def test_changing_business_unit_removes_roles(emu):
    megan = emu.systemuser(MEGAN)
    root = root_bu(emu)
    r = emu.dv("PATCH", f"systemusers({megan['systemuserid']})",
               json={"businessunitid@odata.bind": f"/businessunits({root})"}, headers={"If-Match": "*"})
    assert r.status_code == 204
    assert emu.systemuser(MEGAN)["_businessunitid_value"] == root
    assert emu.dv("GET", f"systemusers({megan['systemuserid']})/systemuserroles_association").json()["value"] == []

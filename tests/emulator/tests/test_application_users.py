"""Application users (fact sheet §8): create, find by applicationid, soft-deleted leftovers, two-step delete."""
from .conftest import LIMITED_CLIENT
from .test_dataverse import dv_error, root_bu

LIMITED = LIMITED_CLIENT[0]
FIND = ("systemusers?$select=systemuserid,applicationid,fullname,isdisabled,deletedstate,accessmode,islicensed,"
        "azureactivedirectoryobjectid,_businessunitid_value&$filter=applicationid eq {}")


def rows(emu, appid=LIMITED):
    r = emu.dv("GET", FIND.format(appid))
    assert r.status_code == 200, r.text
    return r.json()["value"]


def create(emu, appid=LIMITED, bu=None):
    return emu.dv("POST", "systemusers", json={"applicationid": appid, "accessmode": 4, "isdisabled": False,
                                               "businessunitid@odata.bind": f"/businessunits({bu or root_bu(emu)})"})


def created_id(r):
    assert r.status_code == 204, r.text
    return r.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


def disable(emu, su_id):
    r = emu.dv("PATCH", f"systemusers({su_id})", json={"isdisabled": True}, headers={"If-Match": "*"})
    assert r.status_code == 204, r.text


def seed_deleted(emu, client="limited"):
    emu.scenario({"environments": {"contoso-dev": {"application_users": [{"client": client, "deletedstate": 1}]}}})


def test_create_fills_name_and_object_id_and_does_not_count_towards_the_cap(emu):
    su = created_id(create(emu))
    [row] = rows(emu)
    assert row["systemuserid"] == su and row["applicationid"] == LIMITED
    assert row["fullname"] == "# limited" and row["accessmode"] == 4 and row["islicensed"] is False
    assert row["deletedstate"] == 0 and row["isdisabled"] is False
    assert row["_businessunitid_value"] == root_bu(emu)
    # The service principal's object id, not the client id.
    assert row["azureactivedirectoryobjectid"] and row["azureactivedirectoryobjectid"] != LIMITED
    resources = emu.dv("GET", "RetrieveOrganizationResources()").json()["OrganizationResources"]
    assert resources["CurrentNumberOfNonInteractiveUsers"] == 0
    # WhoAmI with the app's own credential names its application user.
    assert emu.dv("GET", "WhoAmI()", client=LIMITED_CLIENT).json()["UserId"] == su


def test_create_in_a_child_business_unit(emu):
    bus = emu.dv("GET", "businessunits?$select=businessunitid,name").json()["value"]
    sales = next(b["businessunitid"] for b in bus if b["name"] == "Sales EU")
    created_id(create(emu, bu=sales))
    assert rows(emu)[0]["_businessunitid_value"] == sales


def test_second_create_for_the_same_app_is_refused(emu):
    created_id(create(emu))
    dv_error(create(emu), 412, "0x80040237")
    assert len(rows(emu)) == 1


def test_a_soft_deleted_leftover_blocks_the_create_until_purged(emu):
    seed_deleted(emu)
    [leftover] = rows(emu)
    assert leftover["deletedstate"] == 1 and leftover["isdisabled"] is True
    err = dv_error(create(emu), 412, "0x80040237")
    assert err["message"] == "A record with matching key values already exists."
    # The soft-deleted row cannot authenticate.
    dv_error(emu.dv("GET", "WhoAmI()", client=LIMITED_CLIENT), 403, "0x80072560")
    assert emu.dv("DELETE", f"systemusers({leftover['systemuserid']})").status_code == 204  # permanent
    assert rows(emu) == []
    su = created_id(create(emu))
    assert [r["systemuserid"] for r in rows(emu)] == [su] and su != leftover["systemuserid"]


def test_deletedstate_filter(emu):
    seed_deleted(emu, "main")  # a leftover next to the main client's live row
    live = emu.dv("GET", f"systemusers?$select=systemuserid&$filter=applicationid eq {emu.ep['client_id']} "
                         "and deletedstate eq 0").json()["value"]
    every = rows(emu, emu.ep["client_id"])
    assert len(live) == 1 and len(every) == 2
    dv_error(emu.dv("GET", "systemusers?$filter=deletedstate eq '0'"), 400, "0x80060888")


def test_delete_needs_a_disabled_user_then_soft_then_permanent(emu):
    su = created_id(create(emu))
    assert emu.associate(su, emu.role_id("Basic User", root_bu(emu))).status_code == 204
    dv_error(emu.dv("DELETE", f"systemusers({su})"), 400, "0x80040227")
    disable(emu, su)
    assert emu.dv("DELETE", f"systemusers({su})").status_code == 204
    [row] = rows(emu)
    assert row["deletedstate"] == 1
    assert emu.dv("GET", f"systemusers({su})/systemuserroles_association").json()["value"] == []
    assert emu.dv("DELETE", f"systemusers({su})").status_code == 204
    assert rows(emu) == []
    dv_error(emu.dv("DELETE", f"systemusers({su})"), 404, "0x80040217")


def test_permanent_delete_fails_once_with_0x80048610_when_asked(emu):
    seed_deleted(emu)
    [leftover] = rows(emu)
    emu.knobs(permanent_delete_failures=1)
    dv_error(emu.dv("DELETE", f"systemusers({leftover['systemuserid']})"), 400, "0x80048610")
    assert len(rows(emu)) == 1
    assert emu.dv("DELETE", f"systemusers({leftover['systemuserid']})").status_code == 204
    assert rows(emu) == [] and emu.state()["knobs"]["permanent_delete_failures"] == 0


def test_people_are_not_deleted(emu):
    megan = emu.systemuser("d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f")
    disable(emu, megan["systemuserid"])
    dv_error(emu.dv("DELETE", f"systemusers({megan['systemuserid']})"), 400, "0x80040228")


def test_state_dump_shows_deletedstate(emu):
    seed_deleted(emu)
    dev = emu.state()["environments"]["contoso-dev"]["systemusers"]
    assert [r["deletedstate"] for r in dev if r["applicationid"] == LIMITED] == [1]

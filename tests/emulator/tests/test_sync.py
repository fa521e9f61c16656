"""Entra -> Dataverse sync (fact sheet §0, §5 'Non-interactive rules', §7)."""
import time

from .conftest import SKU_E3, SKU_PLAN1, UPN

PROD_GROUP = "579ecf60-76b9-4e36-a90a-2b89beb3055b"


def test_licensed_user_appears_after_sync_delay_in_root_bu(emu):
    emu.knobs(sync_delay=0.5)
    user = emu.create_user("syncme")
    assert emu.assign(user["id"], add=[SKU_PLAN1]).status_code == 200
    assert emu.systemuser(user["id"]) is None
    time.sleep(0.6)
    row = emu.systemuser(user["id"])
    root = emu.dv("GET", "businessunits?$filter=parentbusinessunitid eq null").json()["value"][0]["businessunitid"]
    assert row["_businessunitid_value"] == root
    assert (row["accessmode"], row["isdisabled"], row["islicensed"]) == (0, False, True)
    full = emu.dv("GET", f"systemusers({row['systemuserid']})?$select=domainname").json()
    assert full["domainname"] == "syncme" + UPN
    roles = emu.dv("GET", f"systemusers({row['systemuserid']})/systemuserroles_association").json()["value"]
    assert roles == []


def test_licence_without_dataverse_plan_does_not_sync(emu):
    user = emu.create_user("e3only")
    emu.assign(user["id"], add=[SKU_E3])
    assert emu.systemuser(user["id"]) is None


def test_disabled_dataverse_plan_does_not_sync(emu):
    user = emu.create_user("noplan")
    emu.graph("POST", f"users/{user['id']}/assignLicense", json={
        "addLicenses": [{"skuId": SKU_PLAN1, "disabledPlans": ["d56f3deb-50d8-465a-bedb-f079817ccac1"]}],
        "removeLicenses": []})
    assert emu.systemuser(user["id"]) is None


def test_security_group_gates_the_environment(emu):
    user = emu.create_user("sg")
    emu.assign(user["id"], add=[SKU_PLAN1])
    assert emu.systemuser(user["id"]) is not None
    assert emu.systemuser(user["id"], emu.prod) is None
    emu.graph("POST", f"groups/{PROD_GROUP}/members/$ref",
              json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"})
    assert emu.systemuser(user["id"], emu.prod) is not None


def test_group_based_licence_syncs(emu):
    lynne = emu.graph("GET", "users/lynne" + UPN).json()["id"]
    assert emu.systemuser(lynne)["islicensed"] is True


def test_licence_removal_disables_unless_non_interactive(emu):
    a, b = emu.create_user("normal"), emu.create_user("robot")
    for u in (a, b):
        emu.assign(u["id"], add=[SKU_PLAN1])
    rb = emu.systemuser(b["id"])
    assert emu.dv("PATCH", f"systemusers({rb['systemuserid']})", json={"accessmode": 4},
                  headers={"If-Match": "*"}).status_code == 204
    for u in (a, b):
        emu.assign(u["id"], remove=[SKU_PLAN1])
    ra, rb = emu.systemuser(a["id"]), emu.systemuser(b["id"])
    assert (ra["isdisabled"], ra["islicensed"]) == (True, False)
    assert (rb["isdisabled"], rb["islicensed"], rb["accessmode"]) == (False, False, 4)


def test_entra_disable_and_delete_disable_the_systemuser(emu):
    a, b = emu.create_user("gone"), emu.create_user("off")
    for u in (a, b):
        emu.assign(u["id"], add=[SKU_PLAN1])
        assert emu.systemuser(u["id"])["isdisabled"] is False
    emu.graph("DELETE", f"users/{a['id']}")
    emu.graph("PATCH", f"users/{b['id']}", json={"accountEnabled": False})
    assert emu.systemuser(a["id"])["isdisabled"] is True
    assert emu.systemuser(b["id"])["isdisabled"] is True


def test_non_interactive_user_disabled_in_entra_knob(emu):
    u = emu.create_user("ni")
    emu.assign(u["id"], add=[SKU_PLAN1])
    row = emu.systemuser(u["id"])
    emu.dv("PATCH", f"systemusers({row['systemuserid']})", json={"accessmode": 4}, headers={"If-Match": "*"})
    emu.knobs(noninteractive_survives_entra_disable=True)
    emu.graph("PATCH", f"users/{u['id']}", json={"accountEnabled": False})
    assert emu.systemuser(u["id"])["isdisabled"] is False


def test_relicensing_re_enables(emu):
    u = emu.create_user("back")
    emu.assign(u["id"], add=[SKU_PLAN1])
    assert emu.systemuser(u["id"])["isdisabled"] is False
    emu.assign(u["id"], remove=[SKU_PLAN1])
    assert emu.systemuser(u["id"])["isdisabled"] is True
    emu.assign(u["id"], add=[SKU_PLAN1])
    assert emu.systemuser(u["id"])["isdisabled"] is False

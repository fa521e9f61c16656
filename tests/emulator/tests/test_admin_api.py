"""Power Platform admin API (fact sheet §7, §8)."""
import time

from .conftest import GRAPH, LIMITED_CLIENT, SKU_E3, SKU_PLAN1, UPN

PROD_GROUP = "579ecf60-76b9-4e36-a90a-2b89beb3055b"


def test_list_and_get_environments_shape(emu):
    r = emu.bap("GET", "scopes/admin/environments")
    envs = r.json()["value"]
    assert len(envs) == 2
    by_url = {e["properties"]["linkedEnvironmentMetadata"]["instanceUrl"]: e for e in envs}
    for url, env_id in emu.ep["environment_ids"].items():
        e = by_url[url + "/"]  # trailing slash
        assert e["name"] == env_id and e["id"].endswith(f"/environments/{env_id}")
        assert e["type"] == "Microsoft.BusinessAppPlatform/scopes/environments"
        assert e["properties"]["linkedEnvironmentMetadata"]["instanceApiUrl"] == url
    one = emu.bap("GET", f"scopes/admin/environments/{envs[0]['name']}").json()
    assert one["name"] == envs[0]["name"]
    r = emu.bap("GET", "scopes/admin/environments/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404


def test_api_version_required(emu):
    r = emu.bap("GET", "scopes/admin/environments", api_version=None)
    assert r.status_code == 400 and r.json()["error"]["code"]


def test_audience_and_registration(emu):
    url = f"{emu.ep['admin_api_url']}/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
    assert emu.call("GET", url, emu.token(GRAPH), params={"api-version": "2020-10-01"}).status_code == 401
    r = emu.bap("GET", "scopes/admin/environments", client=LIMITED_CLIENT)
    err = r.json()["error"]
    assert r.status_code == 403 and err["code"] == "Forbidden"
    assert "does not have permission to access the path" in err["message"]


def _env_id(emu, url):
    return emu.ep["environment_ids"][url]


def test_add_user_is_immediate(emu):
    emu.knobs(sync_delay=30)
    user = emu.create_user("forced")
    emu.assign(user["id"], add=[SKU_PLAN1])
    assert emu.systemuser(user["id"]) is None
    r = emu.bap("POST", f"scopes/admin/environments/{_env_id(emu, emu.dev)}/addUser", json={"objectId": user["id"]})
    assert r.status_code == 200
    row = emu.systemuser(user["id"])
    assert row and row["isdisabled"] is False and row["accessmode"] == 0


def test_add_user_refuses_until_the_licence_has_propagated(emu):
    emu.knobs(sync_delay=30, license_propagation_delay=0.6)  # no background sync meanwhile
    user = emu.create_user("propagating")
    emu.assign(user["id"], add=[SKU_PLAN1])
    path = f"scopes/admin/environments/{_env_id(emu, emu.dev)}/addUser"
    r = emu.bap("POST", path, json={"objectId": user["id"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "userNotLicensed"
    assert emu.systemuser(user["id"]) is None
    time.sleep(0.7)
    assert emu.bap("POST", path, json={"objectId": user["id"]}).status_code == 200
    assert emu.systemuser(user["id"])["isdisabled"] is False
    # A second licence does not start the clock again: the user holds one that has propagated.
    emu.assign(user["id"], add=[SKU_E3])
    assert emu.bap("POST", path, json={"objectId": user["id"]}).status_code == 200


def test_add_user_accepts_capitalised_key(emu):
    user = emu.create_user("caps")
    emu.assign(user["id"], add=[SKU_PLAN1])
    emu.knobs(sync_delay=30)
    r = emu.bap("POST", f"scopes/admin/environments/{_env_id(emu, emu.dev)}/addUser", json={"ObjectId": user["id"]})
    assert r.status_code == 200
    emu.knobs(bap_adduser_accept_capitalised_objectid=False)
    r = emu.bap("POST", f"scopes/admin/environments/{_env_id(emu, emu.dev)}/addUser", json={"ObjectId": user["id"]})
    assert r.status_code == 400


def test_add_user_refusals(emu):
    user = emu.create_user("refused")
    dev, prod = _env_id(emu, emu.dev), _env_id(emu, emu.prod)
    r = emu.bap("POST", f"scopes/admin/environments/{dev}/addUser", json={"objectId": user["id"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "userNotLicensed"
    emu.assign(user["id"], add=[SKU_E3])  # no Dataverse plan
    r = emu.bap("POST", f"scopes/admin/environments/{dev}/addUser", json={"objectId": user["id"]})
    assert r.json()["error"]["code"] == "userNotLicensed"
    emu.assign(user["id"], add=[SKU_PLAN1])
    r = emu.bap("POST", f"scopes/admin/environments/{prod}/addUser", json={"objectId": user["id"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "userNotPartOfSecurityGroup"
    r = emu.bap("POST", f"scopes/admin/environments/{dev}/addUser",
                json={"objectId": "00000000-0000-0000-0000-000000000000"})
    assert r.status_code == 404
    r = emu.bap("POST", f"scopes/admin/environments/{dev}/addUser", client=LIMITED_CLIENT,
                json={"objectId": user["id"]})
    assert r.status_code == 403


def test_power_platform_admin_user_may_call(emu):
    token = emu.user_token("admin" + UPN, "https://service.powerapps.com").json()["access_token"]
    url = f"{emu.ep['admin_api_url']}/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
    assert emu.call("GET", url, token, params={"api-version": "2020-10-01"}).status_code == 200
    token = emu.user_token("megan" + UPN, "https://service.powerapps.com").json()["access_token"]
    assert emu.call("GET", url, token, params={"api-version": "2020-10-01"}).status_code == 403


def test_add_app_user(emu):
    limited = LIMITED_CLIENT[0]
    r = emu.bap("POST", f"scopes/admin/environments/{_env_id(emu, emu.prod)}/addAppUser",
                api_version="2020-10-01", json={"servicePrincipalAppId": limited})
    assert r.status_code == 200
    assert emu.dv("GET", "WhoAmI()", env=emu.prod, client=LIMITED_CLIENT).status_code == 200
    assert time

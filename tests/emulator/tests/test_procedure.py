"""The manual procedure of fact sheet §0, end to end with msal tokens and plain HTTP calls."""
import time

import msal
import requests

from .conftest import SKU_PLAN1, SYSADMIN_TEMPLATE, UPN

SYNC = 1.0


def msal_tokens(emu, use_certificate):
    authority = f"{emu.ep['authority_host']}/{emu.ep['tenant_id']}"
    if use_certificate:
        pem = open(emu.ep["client_certificate_path"]).read()
        i = pem.index("-----BEGIN CERTIFICATE")
        app = msal.ConfidentialClientApplication(
            emu.ep["certificate_client_id"], authority=authority, instance_discovery=False, timeout=10,
            client_credential={"private_key": pem[:i], "public_certificate": pem[i:]})  # SHA-256 thumbprint
    else:
        app = msal.ConfidentialClientApplication(emu.ep["client_id"], client_credential=emu.ep["client_secret"],
                                                 authority=authority, instance_discovery=False, timeout=10)

    def token(resource):
        result = app.acquire_token_for_client(scopes=[f"{resource}/.default"])
        assert "access_token" in result, result
        return result["access_token"]
    return token("https://graph.microsoft.com"), token(emu.dev)


class Client:
    def __init__(self, emu, use_certificate):
        graph_token, dv_token = msal_tokens(emu, use_certificate)
        self.graph = requests.Session()
        self.graph.headers["Authorization"] = f"Bearer {graph_token}"
        self.dv = requests.Session()
        self.dv.headers.update({"Authorization": f"Bearer {dv_token}", "Accept": "application/json",
                                "OData-MaxVersion": "4.0", "OData-Version": "4.0"})
        self.g = f"{emu.ep['graph_url']}/v1.0"
        self.d = f"{emu.dev}/api/data/v9.2"
        self.env = emu.dev

    def create_licensed_user(self, nick):
        r = self.graph.post(f"{self.g}/users", json={
            "accountEnabled": True, "displayName": nick, "mailNickname": nick, "userPrincipalName": nick + UPN,
            "usageLocation": "US", "passwordProfile": {"password": "S3rvice!Acc0unt",
                                                       "forceChangePasswordNextSignIn": False}})
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        r = self.graph.post(f"{self.g}/users/{oid}/assignLicense",
                            json={"addLicenses": [{"skuId": SKU_PLAN1, "disabledPlans": []}], "removeLicenses": []})
        assert r.status_code == 200, r.text
        return oid

    def find(self, oid):
        r = self.dv.get(f"{self.d}/systemusers", params={
            "$select": "systemuserid,accessmode,isdisabled,islicensed,_businessunitid_value",
            "$filter": f"azureactivedirectoryobjectid eq {oid}"})
        assert r.status_code == 200, r.text
        return (r.json()["value"] or [None])[0]

    def wait_for(self, oid, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.find(oid)
            if row:
                return row
            time.sleep(0.2)
        raise AssertionError("user never synced")

    def make_sysadmin(self, row):
        r = self.dv.get(f"{self.d}/roles", params={
            "$select": "roleid,name", "$filter": f"_roletemplateid_value eq {SYSADMIN_TEMPLATE} and "
                                                 f"_businessunitid_value eq {row['_businessunitid_value']}"})
        role = r.json()["value"][0]["roleid"]
        r = self.dv.post(f"{self.d}/systemusers({row['systemuserid']})/systemuserroles_association/$ref",
                         json={"@odata.id": f"{self.env}/api/data/v9.2/roles({role})"})
        assert r.status_code == 204, r.text

    def set_noninteractive(self, row):
        r = self.dv.patch(f"{self.d}/systemusers({row['systemuserid']})", json={"accessmode": 4},
                          headers={"If-Match": "*"})
        assert r.status_code == 204, r.text

    def remove_licence(self, oid):
        r = self.graph.post(f"{self.g}/users/{oid}/assignLicense",
                            json={"addLicenses": [], "removeLicenses": [SKU_PLAN1]})
        assert r.status_code == 200, r.text


def test_full_procedure_with_secret_client(emu):
    run_procedure(emu, Client(emu, use_certificate=False), "svc-secret")


def test_full_procedure_with_certificate_client(emu):
    run_procedure(emu, Client(emu, use_certificate=True), "svc-cert")


def run_procedure(emu, c, nick):
    emu.knobs(sync_delay=SYNC)
    oid = c.create_licensed_user(nick)
    assert c.find(oid) is None  # not yet synced
    row = c.wait_for(oid, timeout=SYNC + 3)
    assert (row["accessmode"], row["isdisabled"], row["islicensed"]) == (0, False, True)
    c.make_sysadmin(row)
    c.set_noninteractive(row)
    c.remove_licence(oid)
    time.sleep(SYNC + 0.1)
    row = c.find(oid)
    assert (row["accessmode"], row["isdisabled"], row["islicensed"]) == (4, False, False)
    roles = c.dv.get(f"{c.d}/systemusers({row['systemuserid']})/systemuserroles_association",
                     params={"$select": "name"}).json()["value"]
    assert [r["name"] for r in roles] == ["System Administrator"]


def test_wrong_order_leaves_user_disabled(emu):
    emu.knobs(sync_delay=SYNC)
    c = Client(emu, use_certificate=False)
    oid = c.create_licensed_user("svc-wrong")
    row = c.wait_for(oid, timeout=SYNC + 3)
    c.remove_licence(oid)  # licence removed before the mode is set
    time.sleep(SYNC + 0.1)
    row = c.find(oid)
    assert (row["isdisabled"], row["islicensed"]) == (True, False)
    c.set_noninteractive(row)  # too late: still disabled
    assert c.find(oid)["isdisabled"] is True
    r = c.dv.get(f"{c.d}/roles", params={"$select": "roleid", "$filter": f"_roletemplateid_value eq "
                                         f"{SYSADMIN_TEMPLATE} and _businessunitid_value eq "
                                         f"{row['_businessunitid_value']}"})
    role = r.json()["value"][0]["roleid"]
    r = c.dv.post(f"{c.d}/systemusers({row['systemuserid']})/systemuserroles_association/$ref",
                  json={"@odata.id": f"{c.env}/api/data/v9.2/roles({role})"})
    assert r.status_code == 400  # roles cannot be given to a disabled user

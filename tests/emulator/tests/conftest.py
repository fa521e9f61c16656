"""Starts one emulator per pytest worker (the documented contract) and resets it before every test."""
import json
import os
import subprocess
import sys
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GRAPH = "https://graph.microsoft.com"
ADMIN = "https://service.powerapps.com"
UPN = "@contoso.onmicrosoft.com"
SKU_PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
SKU_SALES = "1e1a282c-9c54-43a2-9310-98ef728faace"
SKU_E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SYSADMIN_TEMPLATE = "627090ff-40a3-4053-8790-584edc5be201"
LIMITED_CLIENT = ("e0aad670-18e3-439b-a2f2-36c48f349f7c", "emulator-limited-secret~0")
PUBLIC_CLIENT = "51f81489-12ee-4a9e-aaae-a2591f45987d"
PASSWORD = "Contoso!Passw0rd"


class Emu:
    def __init__(self, ep, proc):
        self.ep, self.proc = ep, proc
        self.http = requests.Session()
        self.http.verify = ep["ca_bundle"]
        self._tokens = {}
        self.dev, self.prod = ep["environments"][0], ep["environments"][1]
        self.token_url = f"{ep['authority_host']}/{ep['tenant_id']}/oauth2/v2.0/token"

    # ----- tokens -----
    def token_response(self, scope, client_id=None, secret=None, **extra):
        data = {"grant_type": "client_credentials", "client_id": client_id or self.ep["client_id"],
                "client_secret": secret or self.ep["client_secret"], "scope": scope, **extra}
        return self.http.post(self.token_url, data=data)

    def token(self, resource, client=None):
        key = (resource, client)
        if key not in self._tokens:
            cid, secret = client or (None, None)
            r = self.token_response(resource.rstrip("/") + "/.default", cid, secret)
            assert r.status_code == 200, r.text
            self._tokens[key] = r.json()["access_token"]
        return self._tokens[key]

    def user_token(self, upn, resource, password=PASSWORD):
        r = self.http.post(self.token_url, data={"grant_type": "password", "client_id": PUBLIC_CLIENT,
                                                 "username": upn, "password": password,
                                                 "scope": resource.rstrip("/") + "/.default openid profile"})
        return r

    # ----- services -----
    def call(self, method, url, token, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, url, headers=headers, **kw)

    def graph(self, method, path, client=None, **kw):
        return self.call(method, f"{self.ep['graph_url']}/v1.0/{path.lstrip('/')}", self.token(GRAPH, client), **kw)

    def dv(self, method, path, env=None, client=None, **kw):
        env = env or self.dev
        return self.call(method, f"{env}/api/data/v9.2/{path.lstrip('/')}", self.token(env, client), **kw)

    def bap(self, method, path, client=None, api_version="2023-06-01", **kw):
        params = kw.pop("params", {})
        if api_version:
            params["api-version"] = api_version
        return self.call(method, f"{self.ep['admin_api_url']}/providers/Microsoft.BusinessAppPlatform/"
                                 f"{path.lstrip('/')}", self.token(ADMIN, client), params=params, **kw)

    # ----- control -----
    def knobs(self, **knobs):
        r = self.http.post(f"{self.ep['control_url']}/scenario", json={"knobs": knobs})
        assert r.status_code == 200, r.text

    def scenario(self, body):
        r = self.http.post(f"{self.ep['control_url']}/scenario", json=body)
        assert r.status_code == 200, r.text

    def state(self):
        return self.http.get(f"{self.ep['control_url']}/state").json()

    def requests_log(self):
        return self.http.get(f"{self.ep['control_url']}/requests").json()

    def reset(self):
        assert self.http.post(f"{self.ep['control_url']}/reset").status_code == 204

    # ----- helpers -----
    def systemuser(self, oid, env=None):
        r = self.dv("GET", f"systemusers?$filter=azureactivedirectoryobjectid eq {oid}"
                           "&$select=systemuserid,accessmode,isdisabled,islicensed,_businessunitid_value", env)
        assert r.status_code == 200, r.text
        rows = r.json()["value"]
        return rows[0] if rows else None

    def create_user(self, nick, usage_location="US", **extra):
        body = {"accountEnabled": True, "displayName": nick.title(), "mailNickname": nick,
                "userPrincipalName": nick + UPN, "usageLocation": usage_location,
                "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": False}, **extra}
        if usage_location is None:
            body.pop("usageLocation")
        r = self.graph("POST", "users", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def assign(self, uid, add=(), remove=()):
        return self.graph("POST", f"users/{uid}/assignLicense",
                          json={"addLicenses": [{"skuId": s, "disabledPlans": []} for s in add],
                                "removeLicenses": list(remove)})

    def role_id(self, name_or_template, bu_id, env=None):
        r = self.dv("GET", f"roles?$select=roleid,name&$filter=_businessunitid_value eq {bu_id}", env)
        for row in r.json()["value"]:
            if row["name"] == name_or_template:
                return row["roleid"]
        raise KeyError(name_or_template)

    def associate(self, su_id, role_id, env=None, client=None):
        env = env or self.dev
        return self.dv("POST", f"systemusers({su_id})/systemuserroles_association/$ref", env, client,
                       json={"@odata.id": f"{env}/api/data/v9.2/roles({role_id})"})


def start_emulator(state_dir, scenario=None):
    env = dict(os.environ)
    env.pop("CURL_CA_BUNDLE", None)
    cmd = [sys.executable, "-m", "tests.emulator", "serve", "--state-dir", str(state_dir)]
    if scenario:
        cmd += ["--scenario", str(scenario)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    elapsed = time.monotonic() - started
    assert line.startswith("ready "), line
    with open(os.path.join(state_dir, "endpoints.json")) as f:
        ep = json.load(f)
    assert line.split()[1] == ep["control_url"]
    return proc, ep, elapsed


@pytest.fixture(scope="session")
def emu(tmp_path_factory):
    proc, ep, elapsed = start_emulator(tmp_path_factory.mktemp("emulator"))
    # requests lets these env vars override Session.verify (tooling notes): point them at our CA.
    os.environ["REQUESTS_CA_BUNDLE"] = ep["ca_bundle"]
    os.environ.pop("CURL_CA_BUNDLE", None)
    e = Emu(ep, proc)
    e.startup_seconds = elapsed
    yield e
    proc.terminate()
    proc.wait(10)


@pytest.fixture(autouse=True)
def _reset(request):
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").reset()
    yield

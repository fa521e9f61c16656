"""Entra ID login emulation (fact sheet §1)."""
import json
import time

import msal
import pytest
import requests

from .conftest import GRAPH, PASSWORD, PUBLIC_CLIENT, UPN


def claims_of(token):
    import base64
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def authority(emu):
    return f"{emu.ep['authority_host']}/{emu.ep['tenant_id']}"


def cert_parts(emu):
    pem = open(emu.ep["client_certificate_path"]).read()
    i = pem.index("-----BEGIN CERTIFICATE")
    return pem[:i], pem[i:]


def test_openid_configuration_for_msal(emu):
    r = emu.http.get(f"{authority(emu)}/v2.0/.well-known/openid-configuration")
    cfg = r.json()
    assert cfg["token_endpoint"] == f"{authority(emu)}/oauth2/v2.0/token"
    assert cfg["authorization_endpoint"].startswith("https://")
    assert cfg["issuer"] == f"{authority(emu)}/v2.0"
    assert emu.http.get(cfg["jwks_uri"]).json()["keys"][0]["kty"] == "RSA"


def test_msal_client_secret_token_claims(emu):
    app = msal.ConfidentialClientApplication(emu.ep["client_id"], client_credential=emu.ep["client_secret"],
                                             authority=authority(emu), instance_discovery=False, timeout=10)
    result = app.acquire_token_for_client(scopes=[f"{GRAPH}/.default"])
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    c = claims_of(result["access_token"])
    assert c["aud"] == GRAPH and c["appid"] == emu.ep["client_id"] and c["tid"] == emu.ep["tenant_id"]
    assert "User.ReadWrite.All" in c["roles"] and c["exp"] > time.time() and c["iat"] <= time.time()
    assert c["iss"] and c["oid"]


def test_raw_token_response_shape(emu):
    body = emu.token_response(f"{emu.dev}/.default").json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert claims_of(body["access_token"])["aud"] == emu.dev


@pytest.mark.parametrize("use_sha1", [False, True])
def test_msal_certificate_credential(emu, use_sha1):
    key, cert = cert_parts(emu)
    cred = {"private_key": key, "public_certificate": cert}
    if use_sha1:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        cred = {"private_key": key, "thumbprint": x509.load_pem_x509_certificate(cert.encode())
                .fingerprint(hashes.SHA1()).hex()}
    app = msal.ConfidentialClientApplication(emu.ep["certificate_client_id"], client_credential=cred,
                                             authority=authority(emu), instance_discovery=False, timeout=10)
    result = app.acquire_token_for_client(scopes=[f"{emu.prod}/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appid"] == emu.ep["certificate_client_id"]


def test_certificate_assertion_signed_by_other_key_is_refused(emu, tmp_path):
    from tests.emulator.tls import make_client_certificate
    make_client_certificate("intruder", str(tmp_path / "x.pem"))
    pem = open(tmp_path / "x.pem").read()
    i = pem.index("-----BEGIN CERTIFICATE")
    app = msal.ConfidentialClientApplication(emu.ep["certificate_client_id"],
                                             client_credential={"private_key": pem[:i], "public_certificate": pem[i:]},
                                             authority=authority(emu), instance_discovery=False, timeout=10)
    result = app.acquire_token_for_client(scopes=[f"{GRAPH}/.default"])
    assert result["error"] == "invalid_client" and 700027 in result["error_codes"]


def test_expired_or_misaddressed_assertion(emu):
    from cryptography.hazmat.primitives import serialization
    from msal.oauth2cli.assertion import JwtAssertionCreator
    key, cert = cert_parts(emu)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    sha1 = x509.load_pem_x509_certificate(cert.encode()).fingerprint(hashes.SHA1()).hex()
    creator = JwtAssertionCreator(key, "RS256", sha1_thumbprint=sha1)
    cid = emu.ep["certificate_client_id"]
    for aud, expires_at, code in ((emu.token_url, int(time.time()) - 10, 700024),
                                  ("https://elsewhere/token", None, 50013)):
        assertion = creator.create_normal_assertion(aud, cid, cid, expires_at=expires_at,
                                                    issued_at=int(time.time()) - 60)
        r = emu.http.post(emu.token_url, data={
            "grant_type": "client_credentials", "client_id": cid, "scope": f"{GRAPH}/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion.decode() if isinstance(assertion, bytes) else assertion})
        assert r.status_code == 401 and code in r.json()["error_codes"], r.text
    assert serialization  # imported for clarity of the key type


def test_bad_secret_unknown_client_unknown_tenant(emu):
    r = emu.token_response(f"{GRAPH}/.default", secret="wrong")
    body = r.json()
    assert r.status_code == 401 and body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["trace_id"] and body["correlation_id"] and "AADSTS7000215" in body["error_description"]
    r = emu.token_response(f"{GRAPH}/.default", client_id="00000000-0000-0000-0000-000000000001")
    assert r.status_code == 400 and r.json()["error_codes"] == [700016]
    emu.knobs(unknown_client_code=7000215)
    r = emu.token_response(f"{GRAPH}/.default", client_id="00000000-0000-0000-0000-000000000001")
    assert r.status_code == 401 and r.json()["error_codes"] == [7000215]
    r = emu.http.post(f"{emu.ep['authority_host']}/no-such-tenant/oauth2/v2.0/token", data={})
    assert r.status_code == 400 and r.json()["error_codes"] == [90002]


@pytest.mark.parametrize("scope", [f"{GRAPH}/User.Read", f"{GRAPH}/.default https://service.powerapps.com/.default"])
def test_scope_must_be_one_default(emu, scope):
    r = emu.token_response(scope)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope" and r.json()["error_codes"] == [70011]


def test_unknown_resource(emu):
    r = emu.token_response("https://foo.microsoft.com/.default")
    assert r.status_code == 400 and r.json()["error_codes"] == [500011]


def test_password_grant(emu):
    r = emu.user_token("megan" + UPN, emu.dev)
    assert r.status_code == 200, r.text
    c = claims_of(r.json()["access_token"])
    assert c["upn"] == "megan" + UPN and c["scp"] and c["aud"] == emu.dev and c["oid"]
    assert emu.user_token("megan" + UPN, emu.dev, password="nope").json()["error_codes"] == [50126]
    assert emu.user_token("dan" + UPN, emu.dev).json()["error_codes"] == [50057]
    r = emu.user_token("pat" + UPN, emu.dev)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and r.json()["error_codes"] == [50055]
    assert emu.user_token("ghost" + UPN, emu.dev).json()["error_codes"] == [50034]


def test_password_grant_after_password_reset_works(emu):
    pat = emu.graph("GET", "users/pat" + UPN).json()
    r = emu.graph("PATCH", f"users/{pat['id']}", json={"passwordProfile": {
        "password": "N3w!Passw0rd", "forceChangePasswordNextSignIn": False}})
    assert r.status_code == 204
    assert emu.user_token("pat" + UPN, emu.dev, password="N3w!Passw0rd").status_code == 200


def test_msal_public_client_password_flow(emu, monkeypatch):
    # msal builds the user-realm URL from the host without its port (so it would call :443); tell msal this
    # host has no realm discovery, as it remembers after a 404 (README "msal notes").
    monkeypatch.setattr(msal.authority.Authority, "_domains_without_user_realm_discovery", {"127.0.0.1"})
    app = msal.PublicClientApplication(PUBLIC_CLIENT, authority=authority(emu), instance_discovery=False, timeout=10)
    result = app.acquire_token_by_username_password("megan" + UPN, PASSWORD, scopes=[f"{emu.dev}/.default"])
    assert "access_token" in result, result


def test_managed_identity_with_msal(emu, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.ep["managed_identity_endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.ep["managed_identity_header"])
    s = requests.Session()
    s.verify = emu.ep["ca_bundle"]
    mi = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=s)
    result = mi.acquire_token_for_client(resource=GRAPH)
    assert "access_token" in result, result
    c = claims_of(result["access_token"])
    assert c["aud"] == GRAPH and "User.ReadWrite.All" in c["roles"]
    raw = s.get(emu.ep["managed_identity_endpoint"], params={"api-version": "2019-08-01", "resource": emu.dev},
                headers={"X-IDENTITY-HEADER": emu.ep["managed_identity_header"]}).json()
    assert set(raw) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(raw["expires_on"], str) and int(raw["expires_on"]) > time.time()
    who = emu.call("GET", f"{emu.dev}/api/data/v9.2/WhoAmI()", raw["access_token"])
    assert who.status_code == 200
    bad = s.get(emu.ep["managed_identity_endpoint"], params={"api-version": "2019-08-01", "resource": GRAPH},
                headers={"X-IDENTITY-HEADER": "wrong"})
    assert bad.status_code == 401


def test_each_token_has_its_own_token_identifier_and_the_request_log_names_it(emu):
    first, second = (emu.token_response(GRAPH + "/.default").json()["access_token"] for dummy in range(2))
    assert claims_of(first)["uti"] != claims_of(second)["uti"]
    assert emu.call("GET", emu.ep["graph_url"].rstrip("/") + "/v1.0/users?$top=1", first).status_code == 200
    logged = [e for e in emu.requests_log() if e["service"] == "graph"]
    assert logged[-1]["token"] == claims_of(first)["uti"]

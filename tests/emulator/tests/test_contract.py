"""Start-up contract, TLS and control API."""
import socket
import ssl

import requests

from .conftest import GRAPH


def test_endpoints_json_has_every_contract_key(emu):
    for key in ("authority_host", "tenant_id", "client_id", "client_secret", "client_certificate_path",
                "certificate_client_id", "graph_url", "admin_api_url", "environments", "ca_bundle", "control_url",
                "managed_identity_endpoint", "managed_identity_header", "environment_ids"):
        assert emu.ep[key], key
    assert len(emu.ep["environments"]) >= 2
    assert set(emu.ep["environment_ids"]) == set(emu.ep["environments"])
    pem = open(emu.ep["client_certificate_path"]).read()
    assert "PRIVATE KEY" in pem and "BEGIN CERTIFICATE" in pem


def test_tls_certificate_valid_for_ip_and_localhost(emu):
    port = int(emu.ep["authority_host"].rsplit(":", 1)[1])
    for host in ("127.0.0.1", "localhost"):
        ctx = ssl.create_default_context(cafile=emu.ep["ca_bundle"])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            # The default context checks the chain and the host name: a wrong certificate fails the handshake.
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
                names = [value for _kind, value in tls.getpeercert()["subjectAltName"]]
                assert host in names


def test_keep_alive_reuses_connection(emu):
    s = requests.Session()
    s.verify = emu.ep["ca_bundle"]
    for dummy in range(3):
        r = s.get(f"{emu.ep['control_url']}/state")
        assert r.status_code == 200 and r.headers["Content-Length"]
    assert len(s.adapters["https://"].poolmanager.pools) == 1


def test_request_log_records_services_and_callers(emu):
    assert emu.token_response(f"{GRAPH}/.default").status_code == 200
    emu.graph("GET", "subscribedSkus")
    emu.dv("GET", "WhoAmI()")
    log = emu.requests_log()
    services = [e["service"] for e in log]
    assert "login" in services and "graph" in services and "dataverse" in services
    dv = [e for e in log if e["service"] == "dataverse"][-1]
    assert dv["environment"] == "contoso-dev" and dv["client_id"] == emu.ep["client_id"]
    assert dv["audience"] == emu.dev and dv["status"] == 200
    for key in ("time", "method", "path", "query", "status", "user"):
        assert key in dv
    assert not any(e["path"].startswith("/_emulator") for e in log)
    emu.http.delete(f"{emu.ep['control_url']}/requests")
    assert emu.requests_log() == []


def test_state_dump_and_reset(emu):
    st = emu.state()
    skus = {s["skuPartNumber"]: s for s in st["skus"]}
    assert skus["DYN365_ENTERPRISE_SALES"]["free"] == 0
    assert skus["DYN365_ENTERPRISE_PLAN1"]["consumed"] == 1
    megan = next(u for u in st["environments"]["contoso-dev"]["systemusers"]
                 if u["domainname"] == "megan@contoso.onmicrosoft.com")
    assert megan["business_unit"] == "Sales EU" and megan["roles"] == ["Salesperson"]
    emu.create_user("resetme")
    assert any(u["userPrincipalName"].startswith("resetme") for u in emu.state()["users"])
    emu.reset()
    assert not any(u["userPrincipalName"].startswith("resetme") for u in emu.state()["users"])


def test_scenario_rejects_unknown_knob(emu):
    r = emu.http.post(f"{emu.ep['control_url']}/scenario", json={"knobs": {"no_such_knob": 1}})
    assert r.status_code == 400


def test_scenario_can_add_users_and_members(emu):
    emu.scenario({"users": [{"userPrincipalName": "zed@contoso.onmicrosoft.com", "usageLocation": "FR"}],
                  "groups": [{"displayName": "Dynamics Sales",
                              "members": ["zed@contoso.onmicrosoft.com"]}]})
    r = emu.graph("GET", "users/zed@contoso.onmicrosoft.com?$select=usageLocation")
    assert r.json()["usageLocation"] == "FR"
    assert emu.state()["groups"][0]["members"] == ["zed@contoso.onmicrosoft.com"]

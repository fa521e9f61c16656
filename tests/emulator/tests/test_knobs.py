"""Latency, seeded fault injection and dropped connections."""
import time

import pytest
import requests

from .conftest import UPN


def test_latency(emu):
    emu.token(emu.dev)
    emu.knobs(latency_ms=150)
    t = time.monotonic()
    emu.dv("GET", "WhoAmI()")
    assert time.monotonic() - t >= 0.15


def _statuses(emu, n=30):
    out = []
    for dummy in range(n):
        try:
            out.append(emu.dv("GET", "WhoAmI()").status_code)
        except requests.ConnectionError:
            out.append("drop")
    return out


def test_faults_are_seeded_and_reproducible(emu):
    emu.token(emu.dev)
    emu.knobs(faults={"dataverse": {"p429": 0.2, "p500": 0.1, "p503": 0.1, "pdrop": 0.1}}, fault_seed=42,
              fault_retry_after=0.5)
    first = _statuses(emu)
    emu.knobs(fault_seed=None)
    emu.knobs(fault_seed=42)
    assert _statuses(emu) == first
    assert {429, 500, 503, "drop", 200} <= set(first)
    emu.knobs(faults={"dataverse": {"p429": 1.0, "p500": 0, "p503": 0, "pdrop": 0}})
    r = emu.dv("GET", "WhoAmI()")
    assert r.status_code == 429 and r.json()["error"]["code"] == "0x80072322" and r.headers["Retry-After"] == "1"


def test_an_injected_fault_is_logged_with_its_sender(emu):
    emu.token(emu.dev)
    emu.knobs(faults={"dataverse": {"p429": 1.0}})
    assert emu.dv("GET", "WhoAmI()").status_code == 429
    (entry,) = [e for e in emu.requests_log() if e["fault"] == "429"]
    assert entry["client_id"] and entry["token"] and entry["environment"] == "contoso-dev"


def test_graph_fault_429_is_fractional_and_control_api_is_never_faulted(emu):
    emu.token("https://graph.microsoft.com")
    emu.knobs(faults={"graph": {"p429": 1.0}}, fault_retry_after=0.25)
    r = emu.graph("GET", "users")
    assert r.status_code == 429 and r.headers["Retry-After"] == "0.250"
    assert r.json()["error"]["code"] == "TooManyRequests"
    assert emu.http.get(f"{emu.ep['control_url']}/state").status_code == 200


@pytest.mark.parametrize("after_write", [0.0, 1.0])
def test_dropped_write_may_or_may_not_be_applied(emu, after_write):
    emu.token("https://graph.microsoft.com")
    emu.knobs(faults={"graph": {"pdrop": 1.0}}, drop_after_write=after_write, fault_seed=1)
    body = {"accountEnabled": True, "displayName": "Drop", "mailNickname": "drop", "userPrincipalName": "drop" + UPN,
            "passwordProfile": {"password": "P@ssw0rd!!"}}
    with pytest.raises(requests.ConnectionError):
        emu.graph("POST", "users", json=body)
    exists = any(u["userPrincipalName"] == "drop" + UPN for u in emu.state()["users"])
    assert exists == bool(after_write)
    assert emu.requests_log()[-1]["dropped"] is True


def test_login_faults(emu):
    emu.knobs(faults={"login": {"p503": 1.0}})
    r = emu.token_response("https://graph.microsoft.com/.default")
    assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"


def test_runtime_systemusers_fill_the_non_interactive_slots(emu):
    # POST /scenario environments.<name>.systemusers adds synced rows; accessmode 4 ones count toward the cap (§5).
    upns = ["slot%d%s" % (i, UPN) for i in range(7)]
    emu.scenario({"users": [{"userPrincipalName": u, "displayName": u, "usageLocation": "US"} for u in upns],
                  "environments": {"contoso-dev": {"systemusers": [{"user": u, "accessmode": 4} for u in upns]}}})
    r = emu.dv("GET", "RetrieveOrganizationResources()")
    assert r.json()["OrganizationResources"]["CurrentNumberOfNonInteractiveUsers"] == 7
    rows = emu.dv("GET", "systemusers?$filter=accessmode eq 4 and applicationid eq null&$select=isdisabled").json()
    assert len(rows["value"]) == 7 and not any(row["isdisabled"] for row in rows["value"])

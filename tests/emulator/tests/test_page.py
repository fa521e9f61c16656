"""'The door is locked': non-interactive users keep API access but not the UI (fact sheet §5)."""
from .conftest import UPN

ALEX = "b7beb2d6-146a-4cd8-903f-b64910f61a7d"


def test_main_aspx_for_interactive_and_non_interactive_users(emu):
    token = emu.user_token("alex" + UPN, emu.dev).json()["access_token"]
    assert emu.call("GET", f"{emu.dev}/main.aspx", token).status_code == 200
    row = emu.systemuser(ALEX)
    emu.dv("PATCH", f"systemusers({row['systemuserid']})", json={"accessmode": 4}, headers={"If-Match": "*"})
    r = emu.call("GET", f"{emu.dev}/main.aspx", token)
    assert r.status_code == 403 and "non-interactive" in r.text
    assert emu.call("GET", f"{emu.dev}/api/data/v9.2/WhoAmI()", token).status_code == 200
    assert emu.call("GET", f"{emu.dev}/main.aspx", None).status_code == 401
    assert emu.call("GET", f"{emu.dev}/main.aspx", emu.token(emu.dev)).status_code == 403  # app token
    log = [e for e in emu.requests_log() if e["service"] == "page"]
    assert log and log[0]["user"] == ALEX

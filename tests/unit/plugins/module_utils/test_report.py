# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet and audit reports: each user's result per environment (from what the role read and did), the rows,
and their text, Markdown and JSON renderings."""
from __future__ import annotations

import json

import pytest

from ansible_collections.d365.identity.plugins.module_utils._domain import report

DEV = "https://contoso-dev.crm4.dynamics.com"
PROD = "https://contoso.crm4.dynamics.com"
UPN = "svc-portal@contoso.onmicrosoft.com"
SA = "System Administrator"


def status(url, present=True, enabled=True, non_interactive=True, missing=(), sync=None):
    missing = list(missing)
    return {"url": url, "present": present, "enabled": present and enabled, "non_interactive": present and non_interactive,
            "roles_ok": present and not missing, "missing_roles": missing,
            "done": present and enabled and non_interactive and not missing, "systemuserid": None, "sync": sync,
            "slots": None, "businessunitid": None}


def plan(envs, converged=False, action="none", borrow=False, give_back=False, held=(), groups=(), problems=(),
         failed=False, candidates=("DYN365_ENTERPRISE_PLAN1",)):
    out = {"changed": False, "converged": converged, "environments": envs, "user_id": "u1",
           "entra": {"action": action, "changes": {}}, "adopt": False, "groups_to_add": list(groups),
           "license": {"borrow": borrow, "candidates": list(candidates), "held": list(held),
                       "borrowable": ["DYN365_ENTERPRISE_PLAN1"], "give_back": give_back},
           "plan": [], "problems": list(problems)}
    if failed:
        out.update(failed=True, msg="%d problems found before any write; nothing was changed:\n%s" % (
            len(problems), "\n".join(problems)))
    return out


def data(**kwargs):
    base = {"upn": UPN, "state": "present", "check_mode": False, "environments": [DEV, PROD], "security_roles": [SA],
            "remove_license": True}
    base.update(kwargs)
    return base


def by_env(result):
    return {row["environment"]: row for row in result["environments"]}


# -- one user's result ----------------------------------------------------------------------------------------


def test_converged_user_is_ok_everywhere_with_no_change():
    result = report.user_result(data(plan=plan([status(DEV), status(PROD)], converged=True)))
    assert (result["outcome"], result["failed"], result["changed"], result["licence"]) == ("ok", False, False, "none")
    for row in result["environments"]:
        assert (row["outcome"], row["state"], row["access_mode"], row["roles"], row["detail"]) == \
            ("ok", "ready", "non_interactive", [SA], "no change")


def test_new_user_lists_what_was_done_and_the_state_read_after_the_give_back():
    before = [status(DEV, present=False, missing=[SA]), status(PROD, present=False, missing=[SA], sync="force")]
    watch = {"environments": [status(DEV), status(PROD)], "disabled": [], "changed": False}
    read = plan(before, action="create", borrow=True, give_back=True, groups=["g1"])
    result = report.user_result(data(plan=read, watch=watch))
    assert (result["outcome"], result["changed"], result["licence"]) == ("changed", True, "none")
    assert result["changes"] == ["created the Entra user", "added to 1 group", "borrowed a licence and gave it back"]
    dev, prod = by_env(result)[DEV], by_env(result)[PROD]
    assert dev["detail"] == ("created the Entra user; added to 1 group; borrowed a licence and gave it back; "
                             "synchronised the user; granted System Administrator; set access mode Non-interactive")
    assert prod["detail"] == "synchronised the user; granted System Administrator; set access mode Non-interactive"
    assert (prod["state"], prod["access_mode"], prod["roles"], prod["outcome"]) == \
        ("ready", "non_interactive", [SA], "changed")


def test_watch_that_saw_a_disable_is_what_the_report_shows():
    before = [status(DEV, non_interactive=False), status(PROD)]
    watch = {"environments": [status(DEV, enabled=False), status(PROD)]}
    result = report.user_result(data(plan=plan(before, held=["DYN365_ENTERPRISE_PLAN1"], give_back=True),
                                     watch=watch))
    assert by_env(result)[DEV]["state"] == "disabled"
    assert by_env(result)[DEV]["detail"] == "gave back DYN365_ENTERPRISE_PLAN1; set access mode Non-interactive"
    assert (by_env(result)[PROD]["outcome"], by_env(result)[PROD]["detail"]) == ("ok", "no change")


def test_a_stale_watch_is_ignored_when_nothing_was_given_back():
    before = [status(DEV, missing=[SA]), status(PROD)]
    stale = {"environments": [status(DEV, enabled=False), status(PROD, enabled=False)]}
    result = report.user_result(data(plan=plan(before), watch=stale))
    assert [r["state"] for r in result["environments"]] == ["ready", "ready"]
    assert by_env(result)[DEV]["detail"] == "granted System Administrator"


def test_status_with_access_mode_and_held_roles_is_preferred():
    dev = dict(status(DEV, non_interactive=False), access_mode="read_write", roles=["Basic User"])
    result = report.user_result(data(environments=[DEV], plan=plan([dev], converged=True)))
    row = by_env(result)[DEV]
    assert (row["access_mode"], row["roles"]) == ("read_write", ["Basic User"])
    result = report.user_result(data(environments=[DEV], plan=plan([dev])))
    assert by_env(result)[DEV]["roles"] == ["Basic User", SA] and by_env(result)[DEV]["access_mode"] == "non_interactive"


def test_check_mode_says_what_would_be_done_and_keeps_the_state_read():
    before = [status(DEV, present=False, missing=[SA]), status(PROD)]
    result = report.user_result(data(check_mode=True, plan=plan(before, action="create", borrow=True, give_back=True)))
    assert result["outcome"] == "would change" and not result["changed"]
    dev, prod = by_env(result)[DEV], by_env(result)[PROD]
    assert (dev["state"], dev["access_mode"], dev["roles"]) == ("not synchronised", "-", [])
    assert dev["detail"] == ("would create the Entra user; borrow a licence and give it back; wait for the sync; "
                             "grant System Administrator; set access mode Non-interactive")
    assert (prod["outcome"], prod["detail"]) == ("ok", "no change")


def test_read_phase_failure_gives_each_environment_its_problems():
    problems = ["%s: security role 'Nope' does not exist. Fix: use one of Basic User." % DEV,
                "svc-portal@contoso.onmicrosoft.com is held by a deleted user. Fix: restore it."]
    read = plan([status(DEV, present=False, missing=[SA]), status(PROD, present=False, missing=[SA])],
                problems=problems, failed=True, held=["DYN365_ENTERPRISE_PLAN1"])
    failure = {"task": "Read the user, its licences and every environment; check the inputs", "message": read["msg"]}
    result = report.user_result(data(plan=read, failure=failure))
    assert (result["outcome"], result["failed"], result["changed"]) == ("failed", True, False)
    assert result["message"] == read["msg"]  # the read phase's message needs no step in front
    dev, prod = by_env(result)[DEV], by_env(result)[PROD]
    assert dev["detail"] == "stopped before any write: " + problems[1] + " " + problems[0]
    assert prod["detail"] == "stopped before any write: " + problems[1]
    assert {dev["outcome"], prod["outcome"]} == {"failed"}
    assert result["licence"] == "DYN365_ENTERPRISE_PLAN1"  # held before, and nothing was written


def test_read_phase_failure_elsewhere_says_nothing_changed():
    problems = ["%s already has 7 non-interactive users, the maximum of 7. Fix: set one back." % DEV]
    read = plan([status(DEV, present=False), status(PROD, present=False)], problems=problems, failed=True)
    result = report.user_result(data(plan=read, failure={"message": read["msg"]}))
    assert by_env(result)[PROD]["detail"] == \
        "stopped before any write by problems elsewhere; nothing was changed"


def test_failure_after_the_read_phase_names_its_environment_and_shows_the_re_read():
    before = [status(DEV, present=False, missing=[SA]), status(PROD, present=False, missing=[SA])]
    message = ('Setting up %s failed at step "Grant the security roles" in %s (error 0x80040225): refused. '
               "The borrowed licence was given back." % (UPN, PROD))
    after = {"changed": False, "environments": [status(DEV), status(PROD, non_interactive=False, missing=[SA])]}
    result = report.user_result(data(plan=plan(before, action="create", borrow=True, give_back=True), after=after,
                                     gave_back={"changed": True}, failure={"task": "Fail, naming the step",
                                                                           "message": message}))
    assert result["outcome"] == "failed" and result["licence"] == "none (given back)"
    assert result["message"] == message  # the role's own message names its step: no task name in front
    dev, prod = by_env(result)[DEV], by_env(result)[PROD]
    assert (dev["state"], dev["detail"]) == ("ready", "the run failed in " + PROD)
    assert (prod["state"], prod["access_mode"], prod["roles"]) == ("incomplete", "not non_interactive", [])
    assert prod["detail"] == result["message"]


@pytest.mark.parametrize("gave_back, licence", [
    ({"failed": True, "msg": "HTTP 503"}, "HELD: giving it back failed, remove it by hand"),
    ({"changed": False}, "none"),
    ({"skipped": True}, "unknown"),
    ({}, "unknown"),
])
def test_licence_after_a_failure(gave_back, licence):
    before = [status(DEV, present=False, missing=[SA])]
    result = report.user_result(data(environments=[DEV], plan=plan(before, borrow=True, give_back=True),
                                     gave_back=gave_back, failure={"message": "boom"}))
    assert result["licence"] == licence


def test_failure_before_any_read_and_unnamed_failure():
    failure = {"task": "Validating arguments against arg spec 'main'", "message": "Validation of arguments failed"}
    result = report.user_result(data(failure=failure))
    assert result["outcome"] == "failed" and result["licence"] == "unknown"
    assert [r["state"] for r in result["environments"]] == ["unknown", "unknown"]
    assert {r["detail"] for r in result["environments"]} == \
        {"step \"Validating arguments against arg spec 'main'\": Validation of arguments failed"}
    result = report.user_result(data(failure={"environment": DEV + "/", "message": "HTTP 500"}))
    assert by_env(result)[DEV]["detail"] == "HTTP 500"
    assert by_env(result)[PROD]["detail"] == "the run failed in " + DEV


def test_removal_and_removal_of_a_user_that_is_gone():
    before = [status(DEV), status(PROD, present=False)]
    result = report.user_result(data(state="absent", plan=plan(before)))
    assert (result["outcome"], result["changed"], result["licence"]) == ("removed", True, "none (user deleted)")
    dev, prod = by_env(result)[DEV], by_env(result)[PROD]
    assert (dev["state"], dev["access_mode"], dev["roles"]) == ("removed", "read_write", [])
    assert dev["detail"] == ("removed the roles, set access mode Read-Write; deleted the Entra user (restorable for "
                             "30 days)")
    assert (prod["state"], prod["outcome"], prod["detail"]) == ("absent", "ok", "no change")
    gone = report.user_result(data(state="absent", plan={"converged": True, "environments": [
        status(DEV, present=False), status(PROD, present=False)]}))
    assert gone["outcome"] == "ok" and [r["state"] for r in gone["environments"]] == ["absent", "absent"]
    dry = report.user_result(data(state="absent", check_mode=True, plan=plan(before)))
    assert by_env(dry)[DEV]["detail"] == "would remove the roles, set access mode Read-Write; delete the Entra user"


def test_environments_come_from_the_plan_when_not_given_and_each_once():
    result = report.user_result(data(environments=[DEV, DEV + "/", PROD.upper()],
                                     plan=plan([status(DEV), status(PROD)], converged=True)))
    assert [r["environment"] for r in result["environments"]] == [DEV, PROD.upper()]
    assert by_env(result)[PROD.upper()]["state"] == "ready"
    result = report.user_result(data(environments=[], plan=plan([status(PROD)], converged=True)))
    assert [r["environment"] for r in result["environments"]] == [PROD]


def test_garbage_in_is_a_result_not_a_crash():
    result = report.user_result(None)
    assert result["user"] == "" and result["environments"] == [] and result["outcome"] == "ok"


def test_kept_licence_when_remove_license_is_false():
    before = [status(DEV, present=False, missing=[SA])]
    result = report.user_result(data(environments=[DEV], remove_license=False, plan=plan(before, borrow=True)))
    assert result["licence"] == "one of DYN365_ENTERPRISE_PLAN1 (kept: remove_license is false)"
    assert result["changes"] == ["borrowed a licence"]


@pytest.mark.parametrize("text, url, named", [
    ("failed in https://contoso.crm4.dynamics.com (error 1)", "https://contoso.crm4.dynamics.com/", True),
    ("PATCH https://CONTOSO.crm4.dynamics.com/api/data/v9.2/systemusers", "https://contoso.crm4.dynamics.com", True),
    ("failed in https://contoso.crm4.dynamics.com.cn", "https://contoso.crm4.dynamics.com", False),
    ("failed in https://x/dataverse/contoso-dev", "https://x/dataverse/contoso", False),
    ("anything", "", False),
])
def test_mentions(text, url, named):
    assert report.mentions(text, url) is named


# -- the fleet -----------------------------------------------------------------------------------------------


def fleet():
    ok = report.user_result(data(plan=plan([status(DEV), status(PROD)], converged=True)))
    bad = report.user_result(data(upn="svc-b@contoso.onmicrosoft.com", failure={"message": "boom | bang\nmore"}))
    return [ok, bad, None]


def test_fleet_report_has_a_row_per_user_and_environment_and_keeps_hostless_failures():
    rep = report.fleet_report(fleet(), hosts=["svc-portal", "svc-b", "broken-host"])
    assert [(r["user"], r["environment"]) for r in rep["rows"]] == [
        (UPN, DEV), (UPN, PROD), ("svc-b@contoso.onmicrosoft.com", DEV), ("svc-b@contoso.onmicrosoft.com", PROD),
        ("broken-host", "-")]
    assert rep["summary"] == {"users": 3, "rows": 5, "ok": 1, "changed": 0, "removed": 0, "would_change": 0,
                              "failed": 2}
    assert [f["user"] for f in rep["failed"]] == ["svc-b@contoso.onmicrosoft.com", "broken-host"]
    assert rep["rows"][-1]["outcome"] == "failed" and "before the role ran" in rep["rows"][-1]["detail"]
    assert all(set(r) == {"user", "environment", "outcome", "state", "access_mode", "roles", "licence", "detail"}
               for r in rep["rows"])


def test_text_table_markdown_and_json():
    rendered = report.render(report.fleet_report(fleet(), hosts=["a", "b", "c"]), path="/tmp/fleet.md")
    text = rendered["text"].splitlines()
    assert text[0] == "Non-interactive users fleet report: 3 user(s), 1 ok, 2 failed"
    assert text[2].split() == ["User", "Environment", "Outcome", "State", "Access", "mode", "Roles", "Licence", "held",
                               "Changed", "/", "failure"]
    assert all(len(line) < 400 for line in text)
    assert "Failures:" in text and "- svc-b@contoso.onmicrosoft.com: boom | bang more" in text
    md = rendered["markdown"]
    assert md.startswith("# Non-interactive users fleet report\n\n3 user(s), 1 ok, 2 failed\n")
    assert "| svc-b@contoso.onmicrosoft.com | %s | failed |" % DEV in md
    assert "boom \\| bang more" in md  # a | in a cell is escaped, a line break is a space
    assert rendered["file_content"] == md
    parsed = json.loads(rendered["json"])
    assert set(parsed) == {"kind", "summary", "rows", "failed"} and len(parsed["rows"]) == 5
    empty = report.fleet_report([])
    assert report.render(empty, path="x.JSON")["file_content"] == report.render_json(empty)
    assert report.render(report.fleet_report([]), path="r.txt")["file_content"].startswith("Non-interactive users")
    assert report.render(report.fleet_report([]))["file_content"] is None


def test_text_cells_are_cut_but_markdown_keeps_everything():
    long = "x" * 200
    rep = report.fleet_report([report.user_result(data(environments=[DEV], failure={"message": long}))])
    rendered = report.render(rep)
    assert "x" * 67 + "..." in rendered["text"] and long not in rendered["text"].split("Failures:", maxsplit=1)[0]
    assert long in rendered["markdown"] and long in rendered["json"]


@pytest.mark.parametrize("value, text", [
    (None, "-"), ("", "-"), ([], "-"), (True, "yes"), (False, "no"), (["a", "b"], "a, b"),
    (["a, b", "c"], "a, b; c"), ({"used": 3, "max": 7, "free": 4}, "3 of 7"), ("two\nlines", "two lines"), (3, "3"),
])
def test_cell(value, text):
    assert report.cell(value) == text


def test_sentences_are_joined_by_semicolons():
    assert report.cell(["disabled in Dataverse", "Entra account disabled"], sentences=True) == \
        "disabled in Dataverse; Entra account disabled"


# -- the audit -------------------------------------------------------------------------------------------------


def test_audit_report_renders_slots_rows_and_errors():
    result = {"summary": {"environments": 2, "rows": 1, "users": 1, "owned": 1, "not_owned": 0, "seats_wasted": 1,
                          "broken": 0, "errors": 1},
              "environments": [{"url": DEV, "slots": {"used": 1, "max": 7, "free": 6}, "listed": 1, "owned": 1,
                                "seats_wasted": 1, "broken": 0, "error": None},
                               {"url": PROD, "slots": None, "listed": 0, "owned": 0, "seats_wasted": 0, "broken": 0,
                                "error": "token refused"}],
              "rows": [{"environment": DEV, "user": UPN, "owned": True, "dataverse": "enabled", "entra": "enabled",
                        "licences": ["DYN365_ENTERPRISE_PLAN1"], "roles": [SA], "status": "seat wasted",
                        "findings": ["seat wasted: holds DYN365_ENTERPRISE_PLAN1"]}],
              "errors": ["%s: token refused" % PROD], "changed": False}
    rendered = report.render(report.audit_report(result), path="audit.md")
    text = rendered["text"]
    assert text.startswith("Non-interactive users audit: 2 environment(s), 1 user(s), 1 seat(s) wasted, 0 broken "
                           "row(s), 1 read error(s)\n")
    slot_line = next(line for line in text.splitlines() if line.startswith(DEV))
    assert slot_line.split()[:3] == [DEV, "1", "of"] and "6" in slot_line.split()
    assert "Read errors:" in text and "- %s: token refused" % PROD in text
    assert "| %s | %s | yes | enabled | enabled | DYN365_ENTERPRISE_PLAN1 | System Administrator |" % (DEV, UPN) in \
        rendered["markdown"]
    assert "## Slots" in rendered["markdown"] and rendered["file_content"] == rendered["markdown"]
    assert set(json.loads(rendered["json"])) == {"kind", "summary", "environments", "rows", "errors"}
    assert report.audit_report(None)["rows"] == []

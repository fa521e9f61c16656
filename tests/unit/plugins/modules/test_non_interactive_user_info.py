# SPDX-License-Identifier: GPL-3.0-or-later
"""non_interactive_user_info: the read phase of the role non_interactive_user, on fakes."""
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.modules import non_interactive_user_info
from ansible_collections.d365.identity.tests.unit.fakes.admin_api import FakeAdmin
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    BASIC_T, FakeDataverse, SYSADMIN_T, role_id, role_row, systemuser)
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph, graph_group, graph_sku
from ansible_collections.d365.identity.tests.unit.fakes.identity import token_refused

PASSWORD = "N0t-In-The-Output!pw"
UPN = "svc-d365-portal@contoso.onmicrosoft.com"
USER_ID = "11111111-2222-3333-4444-555555555555"
ENV1 = "https://contoso.crm4.dynamics.com"
ENV2 = "https://contoso-test.crm4.dynamics.com"
BU = "33333333-3333-3333-3333-333333333333"
PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SKUS = [
    graph_sku(PLAN1, "DYN365_ENTERPRISE_PLAN1", [("d56f3deb-50d8-465a-bedb-f079817ccac1", "DYN365_ENTERPRISE_P1")],
              consumed=1, enabled=3),
    graph_sku(E3, "ENTERPRISEPACK", [("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE")], consumed=0,
              enabled=5),
]
ROLES = [role_row("Systemadministrator", SYSADMIN_T, BU), role_row("Basic User", BASIC_T, BU)]
SYSADMIN, BASIC = role_id(SYSADMIN_T, BU), role_id(BASIC_T, BU)


def owned_user(**more):
    out = {"id": USER_ID, "userPrincipalName": UPN, "displayName": "Svc", "accountEnabled": True,
           "usageLocation": "GB", "licenseAssignmentStates": [],
           "onPremisesExtensionAttributes": {"extensionAttribute15": "d365.identity"}, "onPremisesSyncEnabled": None}
    out.update(more)
    return out


def directory(user=None, groups=(), deleted=()):
    return FakeGraph([user] if user else [], skus=SKUS, groups=groups, deleted=deleted)


def systemuser_row(accessmode=4, isdisabled=False, roles=(SYSADMIN,), oid=USER_ID):
    return systemuser("aaaaaaaa-0000-0000-0000-000000000001", oid, UPN, accessmode=accessmode, business_unit=BU,
                      isdisabled=isdisabled, roles=roles)


def environment(url, rows=(), ni_used=0, ni_max=7, token_error=None, caller_admin=True):
    """One environment: the user's rows, ni_used other non-interactive users; the client's application user holds
    System Administrator (or only Basic User); token_error: Entra refuses tokens for it."""
    others = [systemuser("cccccccc-0000-0000-0000-%012d" % i, "dddddddd-0000-0000-0000-%012d" % i,
                         "ni%d@contoso.onmicrosoft.com" % i, accessmode=4, business_unit=BU) for i in range(ni_used)]
    env = FakeDataverse(url, users=list(rows) + others, roles=ROLES, business_units={BU: "contoso"},
                        caller_roles=None if caller_admin else [BASIC], max_non_interactive=ni_max)
    return env.refuse_tokens(token_error) if token_error else env


@pytest.fixture
def tenant(tenant):
    tenant.module = non_interactive_user_info
    tenant.defaults["user_principal_name"] = UPN
    return tenant


def setup(tenant, the_graph, environments, admin=None):
    tenant.graph = the_graph
    for env in environments:
        tenant.add_environment(env)
    if admin is not None:
        tenant.admin = admin
    tenant.defaults["environments"] = tenant.urls()
    return tenant


def asked(service):
    """(method, first argument) of each client call: what was asked, of which resource."""
    return [call[:2] for call in service.calls]


def env_calls(tenant, url):
    return tenant.environment(url).names()


# -- (1) bad inputs: one failure listing every problem, no write ---------------------------------


def test_bad_input_catalogue_fails_once_listing_every_problem(tenant):
    envs = [environment(ENV1)]
    setup(tenant, directory(None), envs)
    result = tenant.run(user_principal_name="svc@@contoso.onmicrosoft.com ", usage_location="UK",
                        environments=["http://contoso.crm4.dynamics.com", ENV1 + "/api/data/v9.2", ENV1,
                                      "https://CONTOSO.crm4.dynamics.com/", ENV1 + "/main.aspx"])
    assert result["failed"] is True
    msg = result["msg"]
    lines = msg.splitlines()
    assert lines[0] == "8 problems found before any write; nothing was changed:"
    assert [line.split(". ", 1)[0] for line in lines[1:]] == [str(i) for i in range(1, 9)]
    expected = ["leading or trailing white space", "is not a user principal name", "is not an https:// URL",
                "page path", "is listed twice", "page path", "(for UK use GB)", "non_interactive_user_password"]
    for line, text in zip(lines[1:], expected):
        assert text in line, (text, line)
    assert all("Fix:" in line for line in lines[1:])
    assert result["problems"] == [line.split(". ", 1)[1] for line in lines[1:]]
    assert tenant.writes() == []
    assert "find_user" not in tenant.graph.names()  # not a UPN: not read
    assert result["changed"] is False


# -- (2) a converged owned user is cheap ------------------------------------------------------------


def test_converged_owned_user_costs_one_graph_read_and_one_read_per_environment(tenant):
    envs = [environment(ENV1, rows=[systemuser_row()]), environment(ENV2, rows=[systemuser_row()])]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(usage_location="gb", security_roles=["System Administrator"],
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result.get("failed") is not True
    assert result["converged"] is True and result["plan"] == ["nothing to change"] and result["problems"] == []
    assert asked(tenant.graph) == [("find_user", UPN)]
    for url in (ENV1, ENV2):
        assert [(c[0], c[1], c[2]["$filter"]) for c in tenant.environment(url).calls] == [
            ("get_all", "systemusers", "azureactivedirectoryobjectid eq %s" % USER_ID)]
    assert tenant.admin.calls == []
    assert tenant.writes() == []
    assert "onPremisesExtensionAttributes" in tenant.graph.calls_to("find_user")[-1][1]
    assert result["user"] == {"exists": True, "id": USER_ID, "owned": True, "enabled": True}
    assert result["user_id"] == USER_ID and result["pending"] == [] and result["disabled"] == []


def test_rows_of_another_object_id_are_never_used(tenant):
    stranger = systemuser_row(oid="99999999-9999-9999-9999-999999999999")
    setup(tenant, directory(owned_user()), [environment(ENV1, rows=[stranger])])
    result = tenant.run(preflight=False)
    assert result["environments"][0]["present"] is False and result["pending"] == [ENV1]


# -- (3) the non-interactive cap ------------------------------------------------------------------


def test_eighth_non_interactive_user_is_refused(tenant):
    envs = [environment(ENV1, rows=[systemuser_row(accessmode=0)], ni_used=7, ni_max=7),
            environment(ENV2, rows=[systemuser_row(accessmode=0)], ni_used=3, ni_max=7)]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(security_roles=["System Administrator"])
    assert result["failed"] is True
    assert result["problems"] == [
        "%s already has 7 non-interactive users, the maximum of 7. Fix: set one of them back to Read-Write, or use "
        "an application user (they do not count)." % ENV1]
    assert result["msg"].startswith("1 problem found before any write")
    assert "organization_resources" in env_calls(tenant, ENV1)
    assert [e["slots"] for e in result["environments"]] == [{"used": 7, "max": 7}, {"used": 3, "max": 7}]
    assert tenant.writes() == []


# -- (4) sync: force needs the admin API, auto falls back to wait -------------------------------------


def refusing_admin():
    """The client is not registered as an admin management application: every call answers 403."""
    admin = FakeAdmin()
    return admin.fail_always(admin.error(403, "Forbidden", "The caller does not have permission to perform this "
                                         "action.", "GET", "scopes/admin/environments"))


def test_force_sync_without_admin_api_is_a_problem(tenant):
    setup(tenant, directory(owned_user()), [environment(ENV1)], admin=refusing_admin())
    result = tenant.run(sync="force", license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["failed"] is True
    assert len(result["problems"]) == 1
    problem = result["problems"][0]
    assert "non_interactive_user_sync: force" in problem and "admin management application" in problem
    assert tenant.admin.calls == [("environments",)]
    assert tenant.writes() == []


def test_auto_sync_without_admin_api_waits(tenant):
    setup(tenant, directory(owned_user()), [environment(ENV1)], admin=refusing_admin())
    result = tenant.run(sync="auto", license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result.get("failed") is not True
    assert result["problems"] == []
    assert result["environments"][0]["sync"] == "wait"
    assert any(line.startswith("%s: wait for the sync" % ENV1) for line in result["plan"])
    assert result["license"]["borrow"] is True and result["license"]["candidates"] == ["DYN365_ENTERPRISE_PLAN1"]


def test_auto_sync_with_admin_api_forces(tenant):
    setup(tenant, directory(owned_user()), [environment(ENV1)])
    result = tenant.run(sync="auto", license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"] == [] and result["environments"][0]["sync"] == "force"


def test_force_sync_for_environment_unknown_to_admin_api(tenant):
    setup(tenant, directory(owned_user()), [environment(ENV1)], admin=FakeAdmin(instance_urls=[ENV2]))
    result = tenant.run(sync="force", license_skus=["DYN365_ENTERPRISE_PLAN1"], fail_on_problems=False)
    assert len(result["problems"]) == 1
    assert "%s is not an environment of this tenant known to the Power Platform admin API" % ENV1 \
        in result["problems"][0]


# -- (5) a token refused for an environment ----------------------------------------------------------


def refused(url=ENV2):
    """What Entra answers for a Dataverse URL that is not an environment of this tenant."""
    return token_refused(url + "/.default", "invalid_resource", 500011, "The resource principal named %s was not "
                         "found in the tenant named Contoso." % url)


def test_environment_whose_token_is_refused(tenant):
    envs = [environment(ENV1, rows=[systemuser_row()]), environment(ENV2, token_error=refused())]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(fail_on_problems=False, license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"], result
    assert all(p.startswith(ENV2) for p in result["problems"])
    assert any("not an environment of this tenant" in p and "AADSTS500011" in p for p in result["problems"])
    assert tenant.writes() == []


def test_refused_token_is_reported_once(tenant):
    envs = [environment(ENV1, rows=[systemuser_row()]), environment(ENV2, token_error=refused())]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(fail_on_problems=False, license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert len(result["problems"]) == 1, result["problems"]


# -- (6) preflight=false: re-reads only ----------------------------------------------------------------


def test_preflight_false_returns_statuses_and_no_problems(tenant):
    envs = [environment(ENV1, rows=[systemuser_row(accessmode=0)], ni_used=7),
            environment(ENV2, rows=[systemuser_row(isdisabled=True)])]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(preflight=False, security_roles=["System Administrator"], usage_location="UK")
    assert result.get("failed") is not True
    assert result["problems"] == [] and result["plan"] == []
    assert [(e["url"], e["present"], e["enabled"], e["non_interactive"]) for e in result["environments"]] == [
        (ENV1, True, True, False), (ENV2, True, False, True)]
    assert result["pending"] == [ENV1, ENV2] and result["disabled"] == [ENV2]
    assert result["converged"] is False
    assert asked(tenant.graph) == [("find_user", UPN)]
    assert env_calls(tenant, ENV1) == ["get_all"] and env_calls(tenant, ENV2) == ["get_all"]


# -- (7) fail_on_problems=false ------------------------------------------------------------------------


def test_fail_on_problems_false_returns_problems(tenant):
    setup(tenant, directory(None), [environment(ENV1)])
    result = tenant.run(fail_on_problems=False, license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result.get("failed") is not True
    assert len(result["problems"]) == 2
    assert "non_interactive_user_password" in result["problems"][0]
    assert "non_interactive_user_usage_location" in result["problems"][1]
    assert result["entra"]["action"] == "create" and result["user"]["exists"] is False
    assert tenant.writes() == []


def test_new_user_upn_held_by_deleted_user(tenant):
    the_graph = directory(None, deleted=[{"id": "dddddddd-0000-0000-0000-000000000001",
                                          "userPrincipalName": "dddddddd000000000000000000000001" + UPN}])
    setup(tenant, the_graph, [environment(ENV1)])
    result = tenant.run(fail_on_problems=False, password=PASSWORD, usage_location="GB",
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert len(result["problems"]) == 1 and "held by a deleted user" in result["problems"][0]


GROUPS = [graph_group("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "Dynamics Sales"),
          graph_group("aaaaaaaa-bbbb-cccc-dddd-ffffffffffff", "Integration", members=[USER_ID])]


def test_groups_are_planned(tenant):
    envs = [environment(ENV1, rows=[systemuser_row(accessmode=0)])]
    setup(tenant, directory(owned_user(), groups=GROUPS), envs)
    result = tenant.run(groups=["Dynamics Sales", "aaaaaaaa-bbbb-cccc-dddd-ffffffffffff"],
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"] == []
    assert result["groups_to_add"] == ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"]
    assert [g["id"] for g in result["groups_to_join"]] == result["groups_to_add"]
    assert [g["displayName"] for g in result["groups_to_join"]] == ["Dynamics Sales"]
    assert result["converged"] is False


def test_converged_user_is_not_re_read_for_groups(tenant):
    # Documented: membership is ensured while the user is set up; a user removed from an environment's security
    # group is disabled there by Dataverse, which makes that environment pending (and groups are read) again.
    envs = [environment(ENV1, rows=[systemuser_row()])]
    setup(tenant, directory(owned_user(), groups=GROUPS), envs)
    result = tenant.run(groups=["Dynamics Sales"], license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["converged"] is True and result["groups_to_add"] == []
    assert asked(tenant.graph) == [("find_user", UPN)]


def test_caller_without_system_administrator_and_unknown_role(tenant):
    envs = [environment(ENV1, rows=[systemuser_row(accessmode=0)], caller_admin=False)]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(fail_on_problems=False, security_roles=["System Administrator", "Salesperson"])
    assert len(result["problems"]) == 2
    assert "lacks System Administrator" in result["problems"][0]
    assert "security role 'Salesperson' does not exist" in result["problems"][1]
    assert "Basic User, Systemadministrator" in result["problems"][1]


# -- (8) the password never leaves the module ---------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"usage_location": "UK"}])
def test_password_is_never_in_the_output(tenant, extra):
    setup(tenant, directory(None), [environment(ENV1)])
    args = dict({"usage_location": "GB"}, **extra)
    result = tenant.run(password=PASSWORD, license_skus=["DYN365_ENTERPRISE_PLAN1"], **args)
    assert PASSWORD not in result.out
    assert bool(result.get("failed")) is bool(extra)
    assert result["entra"]["action"] == "create"


def test_password_value_is_masked_wherever_it_would_appear(tenant):
    # The option is no_log: even a value that shows up elsewhere (here as the display name to set) is masked.
    envs = [environment(ENV1, rows=[systemuser_row()])]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(password=PASSWORD, display_name=PASSWORD, fail_on_problems=False)
    assert result["entra"]["action"] == "update" and "displayName" in result["entra"]["changes"]
    assert PASSWORD not in result.out


def test_someone_elses_deleted_account_does_not_block_the_upn(tenant):
    # Only an exact UPN, or the object id prefix Entra gives deleted users, holds it: not "old-" + UPN.
    the_graph = directory(None, deleted=[
        {"id": "dddddddd-0000-0000-0000-000000000001", "userPrincipalName": "old-" + UPN},
        {"id": "eeeeeeee-0000-0000-0000-000000000002", "userPrincipalName": "eeeeeeee000000000000000000000002old-" + UPN}])
    setup(tenant, the_graph, [environment(ENV1)])
    result = tenant.run(fail_on_problems=False, password=PASSWORD, usage_location="GB",
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"] == []


def disabled_from_read(env, n):
    """Dataverse disables the unlicensed user asynchronously: from the n-th read of env on, the row is disabled."""
    def disable():
        env.rows[systemuser_row()[0]["systemuserid"]]["isdisabled"] = True
    return env.fail("get_all", *[None] * (n - 1), disable)


def test_watch_reports_a_disable_that_comes_later(tenant, monkeypatch):
    monkeypatch.setattr(non_interactive_user_info.time, "sleep", lambda seconds: None)
    envs = [environment(ENV1, rows=[systemuser_row()]), environment(ENV2, rows=[systemuser_row()])]
    disabled_from_read(envs[1], 3)
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(preflight=False, watch_seconds=30, watch_interval=1)
    assert result["disabled"] == [ENV2]
    assert len(envs[1].calls_to("get_all")) == 3  # read once, then re-read until the disable showed


def test_watch_without_a_disable_ends_with_the_window(tenant, monkeypatch):
    slept = []
    monkeypatch.setattr(non_interactive_user_info.time, "sleep", slept.append)
    clock = iter(range(0, 1000, 2))
    monkeypatch.setattr(non_interactive_user_info.time, "monotonic", lambda: next(clock))
    envs = [environment(ENV1, rows=[systemuser_row()])]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(preflight=False, watch_seconds=6, watch_interval=0)
    assert result["disabled"] == [] and result["read_errors"] == []
    assert slept and all(s >= 1 for s in slept)  # an interval of 0 still waits, so the window is watched


def test_re_read_errors_are_returned_not_taken_for_finished(tenant):
    envs = [environment(ENV1, rows=[systemuser_row()]), environment(ENV2, token_error=refused())]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(preflight=False)
    assert result["converged"] is False and len(result["read_errors"]) == 1 and ENV2 in result["read_errors"][0]


def test_final_watch_waits_the_window_then_reads_once(tenant, monkeypatch):
    slept = []
    monkeypatch.setattr(non_interactive_user_info.time, "sleep", slept.append)
    envs = [environment(ENV1, rows=[systemuser_row()]), environment(ENV2, rows=[systemuser_row()])]
    disabled_from_read(envs[1], 1)  # the disable came within the window: the one read after it sees it
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(preflight=False, watch_seconds=30, watch_reads="final")
    assert slept == [30]
    assert result["disabled"] == [ENV2] and result["read_errors"] == []
    assert [len(e.calls_to("get_all")) for e in envs] == [1, 1]


def test_re_read_with_a_known_user_id_skips_the_entra_read(tenant):
    envs = [environment(ENV1, rows=[systemuser_row()])]
    setup(tenant, directory(owned_user()), envs)
    result = tenant.run(preflight=False, user_id=owned_user()["id"])
    assert tenant.graph.calls == []
    assert result["converged"] is True and result["read_errors"] == [] and result["user_id"] == owned_user()["id"]


@pytest.mark.parametrize("watch_from, left", [
    (None, 30.0),  # not given: the window starts with the task
    (1000.0 - 2.5, 27.5),  # the licence went 2.5 s ago, while this task started: 27.5 s of the window are left
    (1000.0 - 10, 20.0),
    (1000.0 - 12, 30.0),  # more than the start-up it covers: another clock, start now
    (1000.0 + 5, 30.0),  # in the future: another clock, start now
])
def test_the_watch_window_counts_from_watch_from(watch_from, left):
    params = {"watch_seconds": 30, "watch_from": watch_from}
    assert non_interactive_user_info.window_left(params, now=1000.0) == left


def test_final_watch_sleeps_only_what_is_left_of_the_window(tenant, monkeypatch):
    slept = []
    monkeypatch.setattr(non_interactive_user_info.time, "sleep", slept.append)
    envs = [environment(ENV1, rows=[systemuser_row()])]
    setup(tenant, directory(owned_user()), envs)
    started = non_interactive_user_info.time.time() - 4
    tenant.run(preflight=False, watch_seconds=30, watch_reads="final", watch_from=started)
    assert len(slept) == 1 and 25 < slept[0] <= 26

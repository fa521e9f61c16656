# SPDX-License-Identifier: GPL-3.0-or-later
"""non_interactive_user_info: the read phase of the role non_interactive_user, on fakes."""
from __future__ import annotations

import copy
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils._errors import AuthError, PermissionDeniedError
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module
from ansible_collections.d365.identity.plugins.modules import non_interactive_user_info

ARGS = {"tenant_id": "t", "client_id": "c", "client_secret": "client-secret-for-unit-tests"}
PASSWORD = "N0t-In-The-Output!pw"
UPN = "svc-d365-portal@contoso.onmicrosoft.com"
USER_ID = "11111111-2222-3333-4444-555555555555"
ENV1 = "https://contoso.crm4.dynamics.com"
ENV2 = "https://contoso-test.crm4.dynamics.com"
BU = "33333333-3333-3333-3333-333333333333"
CALLER = "44444444-0000-0000-0000-000000000001"
SYSADMIN_T = "627090ff-40a3-4053-8790-584edc5be201"
BASIC_T = "236750cd-45ae-4939-ab12-b24b920ced93"
PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SKUS = [
    {"skuId": PLAN1, "skuPartNumber": "DYN365_ENTERPRISE_PLAN1", "consumedUnits": 1, "prepaidUnits": {"enabled": 3},
     "servicePlans": [{"servicePlanId": "d56f3deb-50d8-465a-bedb-f079817ccac1",
                       "servicePlanName": "DYN365_ENTERPRISE_P1"}]},
    {"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 0, "prepaidUnits": {"enabled": 5},
     "servicePlans": [{"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0",
                       "servicePlanName": "EXCHANGE_S_ENTERPRISE"}]},
]
ROLES = [{"roleid": SYSADMIN_T[:24] + BU[24:], "name": "Systemadministrator", "_roletemplateid_value": SYSADMIN_T,
          "_businessunitid_value": BU},
         {"roleid": BASIC_T[:24] + BU[24:], "name": "Basic User", "_roletemplateid_value": BASIC_T,
          "_businessunitid_value": BU}]


def owned_user(**more):
    out = {"id": USER_ID, "userPrincipalName": UPN, "displayName": "Svc", "accountEnabled": True,
           "usageLocation": "GB", "assignedLicenses": [], "licenseAssignmentStates": [],
           "onPremisesExtensionAttributes": {"extensionAttribute15": "d365.identity"}, "onPremisesSyncEnabled": None}
    out.update(more)
    return out


def systemuser(accessmode=4, isdisabled=False, roles=(ROLES[0],), oid=USER_ID):
    return {"systemuserid": "aaaaaaaa-0000-0000-0000-000000000001", "azureactivedirectoryobjectid": oid,
            "domainname": UPN, "applicationid": None, "accessmode": accessmode, "isdisabled": isdisabled,
            "islicensed": True, "_businessunitid_value": BU, "systemuserroles_association": [dict(r) for r in roles]}


class Recorder:
    """Reads are explicit methods; any other method the module calls is recorded as a write."""

    def __init__(self):
        self.calls = []
        self.writes = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def write(*args, **kwargs):
            self.writes.append((name, args, kwargs))
            return {}
        return write


class FakeGraph(Recorder):
    def __init__(self, user=None, skus=None, groups=(), deleted=()):
        super().__init__()
        self.user, self.groups, self.deleted = user, list(groups), list(deleted)
        self.skus = SKUS if skus is None else skus

    def find_user(self, key, select=None):
        self.calls.append(("find_user", key))
        self.select = select
        return copy.deepcopy(self.user) if self.user and key.lower() == UPN.lower() else None

    def get_all(self, path, params=None):
        self.calls.append(("get_all", path))
        assert path == "directory/deletedItems/microsoft.graph.user"
        return [dict(d) for d in self.deleted]

    def subscribed_skus(self):
        self.calls.append(("subscribed_skus",))
        return copy.deepcopy(self.skus)

    def get_group(self, group_id, select=("id", "displayName")):
        self.calls.append(("get_group", group_id))
        group = next(g for g in self.groups if g["id"] == group_id)
        return {"id": group["id"], "displayName": group["displayName"]}

    def find_groups_by_name(self, display_name, select=("id", "displayName")):
        self.calls.append(("find_groups_by_name", display_name))
        return [{"id": g["id"], "displayName": g["displayName"]} for g in self.groups
                if g["displayName"] == display_name]

    def group_members(self, group_id, select=("id", "userPrincipalName")):
        self.calls.append(("group_members", group_id))
        return [{"id": m} for m in next(g for g in self.groups if g["id"] == group_id)["members"]]


class FakeEnvironment(Recorder):
    def __init__(self, url, rows=(), ni_used=0, ni_max=7, error=None, caller_admin=True):
        super().__init__()
        self.environment_url = url
        self.rows, self.ni_used, self.ni_max, self.error = list(rows), ni_used, ni_max, error
        self.caller_admin = caller_admin

    def _fail(self):
        if self.error:
            raise self.error

    def get_all(self, path, params=None):
        self.calls.append(("get_all", path, (params or {}).get("$filter")))
        self._fail()
        assert path == "systemusers"
        expr = (params or {}).get("$filter") or ""
        if expr.startswith("azureactivedirectoryobjectid eq "):
            oid = expr.split(" eq ", 1)[1]
            return [copy.deepcopy(r) for r in self.rows if r["azureactivedirectoryobjectid"] == oid]
        assert expr == "accessmode eq 4 and applicationid eq null", expr
        return [{"systemuserid": "x-%d" % i} for i in range(self.ni_used)]

    def whoami(self):
        self.calls.append(("whoami",))
        self._fail()
        return {"UserId": CALLER, "BusinessUnitId": BU, "OrganizationId": "o"}

    def user_roles(self, systemuser_id, *args, **kwargs):
        self.calls.append(("user_roles", systemuser_id))
        return [dict(ROLES[0])] if self.caller_admin else [dict(ROLES[1])]

    def roles(self, filter_expr, *args, **kwargs):
        self.calls.append(("roles", filter_expr))
        return [dict(r) for r in ROLES]

    def organization_resources(self):
        self.calls.append(("organization_resources",))
        return {"OrganizationResources": {"CurrentNumberOfNonInteractiveUsers": self.ni_used,
                                          "MaxNumberOfNonInteractiveUsers": self.ni_max}}


class FakeAdmin(Recorder):
    def __init__(self, urls=(ENV1, ENV2), error=None):
        super().__init__()
        self.urls, self.error = list(urls), error

    def environments(self):
        self.calls.append(("environments",))
        if self.error:
            raise self.error
        return [{"name": "env-%d" % i, "properties": {"linkedEnvironmentMetadata": {"instanceUrl": url + "/"}}}
                for i, url in enumerate(self.urls)]


class Tenant:
    def __init__(self, monkeypatch, capsys, graph, environments, admin=None):
        self.graph, self.admin, self.capsys = graph, admin or FakeAdmin(), capsys
        self.environments = {e.environment_url: e for e in environments}
        self.clients_for = []

        def dataverse_client(module, environment_url=None):
            self.clients_for.append(environment_url)
            return self.environments[environment_url]

        monkeypatch.setattr(D365Module, "graph_client", lambda module: self.graph)
        monkeypatch.setattr(D365Module, "dataverse_client", dataverse_client)
        monkeypatch.setattr(D365Module, "admin_api_client", lambda module: self.admin)

    def run(self, **args):
        params = dict(ARGS, user_principal_name=UPN, environments=list(self.environments), **args)
        with patch_module_args(params), pytest.raises(SystemExit):
            non_interactive_user_info.main()
        self.out = self.capsys.readouterr().out
        return json.loads(self.out)

    def writes(self):
        return self.graph.writes + self.admin.writes + [w for e in self.environments.values() for w in e.writes]

    def env_calls(self, url):
        return [c[0] for c in self.environments[url].calls]


# -- (1) bad inputs: one failure listing every problem, no write ---------------------------------


def test_bad_input_catalogue_fails_once_listing_every_problem(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1)]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(None), envs)
    params = dict(ARGS, user_principal_name="svc@@contoso.onmicrosoft.com ", usage_location="UK",
                  environments=["http://contoso.crm4.dynamics.com", ENV1 + "/api/data/v9.2", ENV1,
                                "https://CONTOSO.crm4.dynamics.com/", ENV1 + "/main.aspx"])
    with patch_module_args(params), pytest.raises(SystemExit):
        non_interactive_user_info.main()
    result = json.loads(capsys.readouterr().out)
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
    assert ("find_user", "svc@@contoso.onmicrosoft.com") not in tenant.graph.calls  # not a UPN: not read
    assert result["changed"] is False


# -- (2) a converged owned user is cheap ------------------------------------------------------------


def test_converged_owned_user_costs_one_graph_read_and_one_read_per_environment(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser()]), FakeEnvironment(ENV2, rows=[systemuser()])]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(usage_location="gb", security_roles=["System Administrator"],
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result.get("failed") is not True
    assert result["converged"] is True and result["plan"] == ["nothing to change"] and result["problems"] == []
    assert tenant.graph.calls == [("find_user", UPN)]
    for url in (ENV1, ENV2):
        assert tenant.environments[url].calls == [
            ("get_all", "systemusers", "azureactivedirectoryobjectid eq %s" % USER_ID)]
    assert tenant.admin.calls == []
    assert tenant.writes() == []
    assert "onPremisesExtensionAttributes" in tenant.graph.select
    assert result["user"] == {"exists": True, "id": USER_ID, "owned": True, "enabled": True}
    assert result["user_id"] == USER_ID and result["pending"] == [] and result["disabled"] == []


def test_rows_of_another_object_id_are_never_used(monkeypatch, capsys):
    stranger = systemuser(oid="99999999-9999-9999-9999-999999999999")
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), [FakeEnvironment(ENV1, rows=[stranger])])
    result = tenant.run(preflight=False)
    assert result["environments"][0]["present"] is False and result["pending"] == [ENV1]


# -- (3) the non-interactive cap ------------------------------------------------------------------


def test_eighth_non_interactive_user_is_refused(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser(accessmode=0)], ni_used=7, ni_max=7),
            FakeEnvironment(ENV2, rows=[systemuser(accessmode=0)], ni_used=3, ni_max=7)]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(security_roles=["System Administrator"])
    assert result["failed"] is True
    assert result["problems"] == [
        "%s already has 7 non-interactive users, the maximum of 7. Fix: set one of them back to Read-Write, or use "
        "an application user (they do not count)." % ENV1]
    assert result["msg"].startswith("1 problem found before any write")
    assert "organization_resources" in tenant.env_calls(ENV1)
    assert [e["slots"] for e in result["environments"]] == [{"used": 7, "max": 7}, {"used": 3, "max": 7}]
    assert tenant.writes() == []


# -- (4) sync: force needs the admin API, auto falls back to wait -------------------------------------


def refusing_admin():
    return FakeAdmin(error=PermissionDeniedError("The Power Platform admin API refused the request (403 Forbidden).",
                                                 status=403))


def test_force_sync_without_admin_api_is_a_problem(monkeypatch, capsys):
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), [FakeEnvironment(ENV1)], admin=refusing_admin())
    result = tenant.run(sync="force", license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["failed"] is True
    assert len(result["problems"]) == 1
    problem = result["problems"][0]
    assert "non_interactive_user_sync: force" in problem and "admin management application" in problem
    assert tenant.admin.calls == [("environments",)]
    assert tenant.writes() == []


def test_auto_sync_without_admin_api_waits(monkeypatch, capsys):
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), [FakeEnvironment(ENV1)], admin=refusing_admin())
    result = tenant.run(sync="auto", license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result.get("failed") is not True
    assert result["problems"] == []
    assert result["environments"][0]["sync"] == "wait"
    assert any(line.startswith("%s: wait for the sync" % ENV1) for line in result["plan"])
    assert result["license"]["borrow"] is True and result["license"]["candidates"] == ["DYN365_ENTERPRISE_PLAN1"]


def test_auto_sync_with_admin_api_forces(monkeypatch, capsys):
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), [FakeEnvironment(ENV1)])
    result = tenant.run(sync="auto", license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"] == [] and result["environments"][0]["sync"] == "force"


def test_force_sync_for_environment_unknown_to_admin_api(monkeypatch, capsys):
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), [FakeEnvironment(ENV1)], admin=FakeAdmin([ENV2]))
    result = tenant.run(sync="force", license_skus=["DYN365_ENTERPRISE_PLAN1"], fail_on_problems=False)
    assert len(result["problems"]) == 1
    assert "%s is not an environment of this tenant known to the Power Platform admin API" % ENV1 \
        in result["problems"][0]


# -- (5) a token refused for an environment ----------------------------------------------------------


def refused():
    return AuthError("AADSTS500011: The resource principal named https://fabrikam.crm.dynamics.com was not found "
                     "in the tenant named Contoso.", error="invalid_resource")


def test_environment_whose_token_is_refused(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser()]), FakeEnvironment(ENV2, error=refused())]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(fail_on_problems=False, license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"], result
    assert all(p.startswith(ENV2) for p in result["problems"])
    assert any("not an environment of this tenant" in p and "AADSTS500011" in p for p in result["problems"])
    assert tenant.writes() == []


def test_refused_token_is_reported_once(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser()]), FakeEnvironment(ENV2, error=refused())]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(fail_on_problems=False, license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert len(result["problems"]) == 1, result["problems"]


# -- (6) preflight=false: re-reads only ----------------------------------------------------------------


def test_preflight_false_returns_statuses_and_no_problems(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser(accessmode=0)], ni_used=7),
            FakeEnvironment(ENV2, rows=[systemuser(isdisabled=True)])]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(preflight=False, security_roles=["System Administrator"], usage_location="UK")
    assert result.get("failed") is not True
    assert result["problems"] == [] and result["plan"] == []
    assert [(e["url"], e["present"], e["enabled"], e["non_interactive"]) for e in result["environments"]] == [
        (ENV1, True, True, False), (ENV2, True, False, True)]
    assert result["pending"] == [ENV1, ENV2] and result["disabled"] == [ENV2]
    assert result["converged"] is False
    assert tenant.graph.calls == [("find_user", UPN)]
    assert tenant.env_calls(ENV1) == ["get_all"] and tenant.env_calls(ENV2) == ["get_all"]


# -- (7) fail_on_problems=false ------------------------------------------------------------------------


def test_fail_on_problems_false_returns_problems(monkeypatch, capsys):
    tenant = Tenant(monkeypatch, capsys, FakeGraph(None), [FakeEnvironment(ENV1)])
    result = tenant.run(fail_on_problems=False, license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result.get("failed") is not True
    assert len(result["problems"]) == 2
    assert "non_interactive_user_password" in result["problems"][0]
    assert "non_interactive_user_usage_location" in result["problems"][1]
    assert result["entra"]["action"] == "create" and result["user"]["exists"] is False
    assert tenant.writes() == []


def test_new_user_upn_held_by_deleted_user(monkeypatch, capsys):
    graph = FakeGraph(None, deleted=[{"id": "dddddddd-0000-0000-0000-000000000001",
                                      "userPrincipalName": "dddddddd000000000000000000000001" + UPN}])
    tenant = Tenant(monkeypatch, capsys, graph, [FakeEnvironment(ENV1)])
    result = tenant.run(fail_on_problems=False, password=PASSWORD, usage_location="GB",
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert len(result["problems"]) == 1 and "held by a deleted user" in result["problems"][0]


GROUPS = [{"id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "displayName": "Dynamics Sales", "members": []},
          {"id": "aaaaaaaa-bbbb-cccc-dddd-ffffffffffff", "displayName": "Integration", "members": [USER_ID]}]


def test_groups_are_planned(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser(accessmode=0)])]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user(), groups=GROUPS), envs)
    result = tenant.run(groups=["Dynamics Sales", "aaaaaaaa-bbbb-cccc-dddd-ffffffffffff"],
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"] == []
    assert result["groups_to_add"] == ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"]
    assert result["converged"] is False


def test_converged_user_is_not_re_read_for_groups(monkeypatch, capsys):
    # Documented: membership is ensured while the user is set up; a user removed from an environment's security
    # group is disabled there by Dataverse, which makes that environment pending (and groups are read) again.
    envs = [FakeEnvironment(ENV1, rows=[systemuser()])]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user(), groups=GROUPS), envs)
    result = tenant.run(groups=["Dynamics Sales"], license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["converged"] is True and result["groups_to_add"] == []
    assert tenant.graph.calls == [("find_user", UPN)]


def test_caller_without_system_administrator_and_unknown_role(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser(accessmode=0)], caller_admin=False)]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(fail_on_problems=False, security_roles=["System Administrator", "Salesperson"])
    assert len(result["problems"]) == 2
    assert "lacks System Administrator" in result["problems"][0]
    assert "security role 'Salesperson' does not exist" in result["problems"][1]
    assert "Basic User, Systemadministrator" in result["problems"][1]


# -- (8) the password never leaves the module ---------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"usage_location": "UK"}])
def test_password_is_never_in_the_output(monkeypatch, capsys, extra):
    tenant = Tenant(monkeypatch, capsys, FakeGraph(None), [FakeEnvironment(ENV1)])
    args = dict({"usage_location": "GB"}, **extra)
    result = tenant.run(password=PASSWORD, license_skus=["DYN365_ENTERPRISE_PLAN1"], **args)
    assert PASSWORD not in tenant.out
    assert bool(result.get("failed")) is bool(extra)
    assert result["entra"]["action"] == "create"


def test_password_value_is_masked_wherever_it_would_appear(monkeypatch, capsys):
    # The option is no_log: even a value that shows up elsewhere (here as the display name to set) is masked.
    envs = [FakeEnvironment(ENV1, rows=[systemuser()])]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(password=PASSWORD, display_name=PASSWORD, fail_on_problems=False)
    assert result["entra"]["action"] == "update" and "displayName" in result["entra"]["changes"]
    assert PASSWORD not in tenant.out


def test_someone_elses_deleted_account_does_not_block_the_upn(monkeypatch, capsys):
    # Only an exact UPN, or the object id prefix Entra gives deleted users, holds it: not "old-" + UPN.
    graph = FakeGraph(None, deleted=[{"id": "dddddddd-0000-0000-0000-000000000001", "userPrincipalName": "old-" + UPN},
                                     {"id": "eeeeeeee-0000-0000-0000-000000000002",
                                      "userPrincipalName": "eeeeeeee000000000000000000000002old-" + UPN}])
    tenant = Tenant(monkeypatch, capsys, graph, [FakeEnvironment(ENV1)])
    result = tenant.run(fail_on_problems=False, password=PASSWORD, usage_location="GB",
                        license_skus=["DYN365_ENTERPRISE_PLAN1"])
    assert result["problems"] == []


class FlippingEnvironment(FakeEnvironment):
    """Dataverse disables the unlicensed user asynchronously: from the n-th read on, the row is disabled."""

    def __init__(self, url, disabled_from_read):
        super().__init__(url, rows=[systemuser()])
        self.reads, self.disabled_from_read = 0, disabled_from_read

    def get_all(self, path, params=None):
        self.reads += 1
        if self.reads >= self.disabled_from_read:
            self.rows = [systemuser(isdisabled=True)]
        return super().get_all(path, params)


def test_watch_reports_a_disable_that_comes_later(monkeypatch, capsys):
    monkeypatch.setattr(non_interactive_user_info.time, "sleep", lambda seconds: None)
    envs = [FakeEnvironment(ENV1, rows=[systemuser()]), FlippingEnvironment(ENV2, disabled_from_read=3)]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(preflight=False, watch_seconds=30, watch_interval=1)
    assert result["disabled"] == [ENV2]
    assert envs[1].reads == 3  # read once, then re-read until the disable showed


def test_watch_without_a_disable_ends_with_the_window(monkeypatch, capsys):
    slept = []
    monkeypatch.setattr(non_interactive_user_info.time, "sleep", slept.append)
    clock = iter(range(0, 1000, 2))
    monkeypatch.setattr(non_interactive_user_info.time, "monotonic", lambda: next(clock))
    envs = [FakeEnvironment(ENV1, rows=[systemuser()])]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(preflight=False, watch_seconds=6, watch_interval=0)
    assert result["disabled"] == [] and result["read_errors"] == []
    assert slept and all(s >= 1 for s in slept)  # an interval of 0 still waits, so the window is watched


def test_re_read_errors_are_returned_not_taken_for_finished(monkeypatch, capsys):
    envs = [FakeEnvironment(ENV1, rows=[systemuser()]), FakeEnvironment(ENV2, error=refused())]
    tenant = Tenant(monkeypatch, capsys, FakeGraph(owned_user()), envs)
    result = tenant.run(preflight=False)
    assert result["converged"] is False and len(result["read_errors"]) == 1 and ENV2 in result["read_errors"][0]

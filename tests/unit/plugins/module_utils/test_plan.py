# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure decisions of the role non_interactive_user (module_utils/_domain/plan.py)."""
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._domain import plan as _plan
from ansible_collections.d365.identity.plugins.module_utils._domain.licenses import has_dynamics_plan
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import role_row
from ansible_collections.d365.identity.tests.unit.fakes.graph import graph_sku, licence_state

UPN = "svc-d365-portal@contoso.onmicrosoft.com"
USER_ID = "11111111-2222-3333-4444-555555555555"
ENV1 = "https://contoso.crm4.dynamics.com"
ENV2 = "https://contoso-test.crm4.dynamics.com"
BU = "33333333-3333-3333-3333-333333333333"
SYSADMIN_T = "627090ff-40a3-4053-8790-584edc5be201"
BASIC_T = "236750cd-45ae-4939-ab12-b24b920ced93"
SALES_T = "c90c4856-4548-461c-9044-54c49c7534d4"  # Salesperson
PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
MARK = {"extensionAttribute15": "d365.identity"}


def sku(sku_id, part, plans, consumed=0, enabled=3):
    """A subscribedSku as Graph returns it."""
    return graph_sku(sku_id, part, [("0000000%d-0000-0000-0000-000000000000" % i, p) for i, p in enumerate(plans)],
                     consumed=consumed, enabled=enabled)


def skus(p1_consumed=1, p1_enabled=3):
    return [sku(PLAN1, "DYN365_ENTERPRISE_PLAN1", ["DYN365_ENTERPRISE_P1", "FLOW_DYN_P2"], p1_consumed, p1_enabled),
            sku(E3, "ENTERPRISEPACK", ["EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE"], 0, 5)]


def params(**overrides):
    base = {"identity": UPN, "environments": [ENV1], "state": "present", "display_name": None,
            "usage_location": "GB", "password": "pw-for-unit-tests", "account_enabled": False,
            "license_skus": ["DYN365_ENTERPRISE_PLAN1"], "security_roles": ["System Administrator"], "groups": [],
            "sync": "auto", "remove_license": True, "owner_attribute": 15, "adopt": False}
    base.update(overrides)
    return base


def role(name, template, rid=None):
    return role_row(name, template, BU, rid)


def row(accessmode=4, isdisabled=False, roles=(("System Administrator", SYSADMIN_T),)):
    return {"systemuserid": "aaaaaaaa-0000-0000-0000-000000000001", "accessmode": accessmode,
            "isdisabled": isdisabled, "_businessunitid_value": BU,
            "systemuserroles_association": [role(n, t) for n, t in roles]}


def user(owned=True, enabled=True, usage="GB", licences=(), extra_attrs=None, **more):
    attrs = dict(MARK) if owned else {}
    attrs.update(extra_attrs or {})
    out = {"id": USER_ID, "userPrincipalName": UPN, "displayName": "Svc", "accountEnabled": enabled,
           "usageLocation": usage, "onPremisesExtensionAttributes": attrs, "onPremisesSyncEnabled": None,
           "assignedLicenses": [{"skuId": s, "disabledPlans": []} for s in licences],
           "licenseAssignmentStates": [licence_state(s) for s in licences]}
    out.update(more)
    return out


def done(url=ENV1):
    return _plan.environment_status(url, row(), ["System Administrator"])


def read_write(url=ENV1):
    return _plan.environment_status(url, row(accessmode=0, roles=()), ["System Administrator"])


def absent(url=ENV1):
    return _plan.environment_status(url, None, ["System Administrator"])


# -- check_inputs ------------------------------------------------------------------------------


def test_valid_inputs_give_no_problem_and_normalised_urls():
    problems, envs = _plan.check_inputs(params(environments=[ENV1 + "/", ENV2 + "//"]))
    assert problems == []
    assert envs == [ENV1, ENV2]


def test_upn_with_trailing_white_space():
    problems, _envs = _plan.check_inputs(params(identity=UPN + " "))
    assert len(problems) == 1
    assert "leading or trailing white space" in problems[0] and "Fix:" in problems[0]
    assert "non_interactive_user_upn" in problems[0]


@pytest.mark.parametrize("upn", ["svc@@contoso.onmicrosoft.com", "svc@contoso@onmicrosoft.com",
                                 "svc.contoso.onmicrosoft.com", "@contoso.onmicrosoft.com", "svc@"])
def test_upn_not_a_principal_name(upn):
    problems, _envs = _plan.check_inputs(params(identity=upn))
    assert len(problems) == 1
    assert "is not a user principal name" in problems[0] and "exactly one @" in problems[0]


@pytest.mark.parametrize("url", ["HTTP://contoso.crm4.dynamics.com", "http://contoso.crm4.dynamics.com",
                                 "contoso.crm4.dynamics.com", " https://contoso.crm4.dynamics.com"])
def test_url_not_https(url):
    problems, envs = _plan.check_inputs(params(environments=[url]))
    assert len(problems) == 1 and "is not an https:// URL" in problems[0]
    assert envs == []


@pytest.mark.parametrize("url", ["https://contoso.crm4.dynamics.com/?appid=1",
                                 "https://contoso.crm4.dynamics.com/#main",
                                 "https://contoso.crm4.dynamics.com/api/data/v9.2",
                                 "https://contoso.crm4.dynamics.com/API/data/v9.2/",
                                 "https://contoso.crm4.dynamics.com/main.aspx",
                                 "https://admin@contoso.crm4.dynamics.com"])
def test_url_with_query_fragment_or_page_path(url):
    problems, envs = _plan.check_inputs(params(environments=[url]))
    assert len(problems) == 1
    assert "carries a query, a fragment, a user name or a page path" in problems[0]
    assert "https://contoso.crm4.dynamics.com." in problems[0]  # the base URL to use instead
    assert envs == []


def test_duplicate_urls_differing_in_case_and_trailing_slash():
    problems, envs = _plan.check_inputs(params(environments=[ENV1, "https://Contoso.CRM4.dynamics.com/"]))
    assert len(problems) == 1 and "is listed twice" in problems[0]
    assert "https://contoso.crm4.dynamics.com" in problems[0]
    assert envs == [ENV1]


def test_empty_environment_list():
    problems, envs = _plan.check_inputs(params(environments=[]))
    assert len(problems) == 1 and "non_interactive_user_environments is empty" in problems[0]
    assert envs == []


def test_invalid_usage_location_names_the_code_to_use():
    problems, _envs = _plan.check_inputs(params(usage_location="UK"))
    assert len(problems) == 1
    assert "'UK' is not an ISO 3166 alpha-2 country code" in problems[0]
    assert "Fix:" in problems[0] and "use GB" in problems[0].split("Fix:", 1)[1]


def test_usage_location_is_not_checked_for_absent():
    problems, _envs = _plan.check_inputs(params(state="absent", usage_location="UK"))
    assert problems == []


def test_every_input_problem_is_listed_at_once():
    problems, _envs = _plan.check_inputs(params(identity="a@@b ", usage_location="XX",
                                                environments=["http://x.crm.dynamics.com", ENV1, ENV1 + "/"]))
    assert len(problems) == 5


# -- environment_status --------------------------------------------------------------------------


def test_status_absent_row():
    status = _plan.environment_status(ENV1, None, ["System Administrator", "Basic User"])
    assert status["present"] is False and status["enabled"] is False and status["done"] is False
    assert status["missing_roles"] == ["System Administrator", "Basic User"]
    assert status["systemuserid"] is None and status["businessunitid"] is None


def test_status_disabled():
    status = _plan.environment_status(ENV1, row(isdisabled=True), ["System Administrator"])
    assert status["present"] is True and status["enabled"] is False
    assert status["non_interactive"] is True and status["roles_ok"] is True
    assert status["done"] is False


def test_status_non_interactive_with_role_by_name():
    status = _plan.environment_status(ENV1, row(roles=(("Basic User", BASIC_T),)), ["basic user"])
    assert status["done"] is True and status["missing_roles"] == []
    assert status["systemuserid"] == "aaaaaaaa-0000-0000-0000-000000000001" and status["businessunitid"] == BU
    assert status["access_mode"] == "non_interactive" and status["roles"] == ["Basic User"]  # for the fleet report


def test_status_names_the_access_mode_and_every_held_role():
    status = _plan.environment_status(ENV1, row(accessmode=0, roles=(("Salesperson", SALES_T), ("Basic User", BASIC_T))),
                                      ["System Administrator"])
    assert status["access_mode"] == "read_write" and status["roles"] == ["Basic User", "Salesperson"]
    absent = _plan.environment_status(ENV1, None, [])
    assert absent["access_mode"] is None and absent["roles"] == []


def test_status_role_by_template_id():
    status = _plan.environment_status(ENV1, row(roles=(("Basis-Benutzer", BASIC_T),)), [BASIC_T.upper()])
    assert status["done"] is True


@pytest.mark.parametrize("name", ["System Administrator", "Systemadministrator", "Administrateur système"])
def test_status_system_administrator_by_template_in_any_language(name):
    status = _plan.environment_status(ENV1, row(roles=((name, SYSADMIN_T),)), ["System Administrator"])
    assert status["done"] is True and status["roles_ok"] is True


def test_status_system_administrator_name_without_template_is_missing():
    status = _plan.environment_status(ENV1, row(roles=(("System Administrator", BASIC_T),)),
                                      ["System Administrator"])
    assert status["missing_roles"] == ["System Administrator"] and status["done"] is False


def test_status_missing_role():
    status = _plan.environment_status(ENV1, row(), ["System Administrator", "Salesperson"])
    assert status["missing_roles"] == ["Salesperson"]
    assert status["roles_ok"] is False and status["done"] is False


def test_status_read_write_is_not_done():
    status = _plan.environment_status(ENV1, row(accessmode=0), ["System Administrator"])
    assert status["non_interactive"] is False and status["done"] is False


# -- held_borrowable / licence_plan / entra_changes ----------------------------------------------


def test_held_borrowable_ignores_group_assigned():
    the_user = user(licences=[PLAN1])
    assert _plan.held_borrowable(the_user, skus()[:1]) == ["DYN365_ENTERPRISE_PLAN1"]
    the_user["licenseAssignmentStates"][0]["assignedByGroup"] = "99999999-0000-0000-0000-000000000000"
    assert _plan.held_borrowable(the_user, skus()[:1]) == []


def test_held_borrowable_from_assigned_licenses_only():
    the_user = user(licences=[PLAN1.upper()])
    del the_user["licenseAssignmentStates"]
    assert _plan.held_borrowable(the_user, skus()[:1]) == ["DYN365_ENTERPRISE_PLAN1"]


def test_entra_changes():
    assert _plan.entra_changes(params(display_name="New", usage_location=" gb "), user()) == {"displayName": "New"}
    assert _plan.entra_changes(params(usage_location="us"), user()) == {"usageLocation": "US"}
    assert _plan.entra_changes(params(account_enabled=True), user()) == {}
    assert _plan.entra_changes(params(account_enabled=True), user(enabled=False)) == {"accountEnabled": True}


# -- decide --------------------------------------------------------------------------------------


def test_new_user_needs_password_and_usage_location():
    result = _plan.decide(params(password=None, usage_location=None), None, [absent()], skus=skus(), groups=[])
    assert len(result["problems"]) == 2
    assert "non_interactive_user_password" in result["problems"][0]
    assert "Ansible Vault" in result["problems"][0]
    assert "non_interactive_user_usage_location" in result["problems"][1]
    assert result["entra"]["action"] == "create" and result["converged"] is False


def test_new_user_plan():
    result = _plan.decide(params(), None, [absent()], skus=skus(), groups=[])
    assert result["problems"] == []
    assert result["license"]["borrow"] is True and result["license"]["candidates"] == ["DYN365_ENTERPRISE_PLAN1"]
    assert result["license"]["give_back"] is True
    assert result["plan"][0].startswith("create Entra user %s (usage location GB)" % UPN)
    assert "%s: wait for the sync, grant System Administrator, set access mode Non-interactive" % ENV1 in result["plan"]


def test_person_with_pending_work_is_refused_once():
    person = user(owned=False, licences=[PLAN1])
    result = _plan.decide(params(), person, [read_write()], skus=skus(), groups=[])
    assert len(result["problems"]) == 1
    assert "non_interactive_user_adopt: true" in result["problems"][0]
    assert "onPremisesExtensionAttributes.extensionAttribute15" in result["problems"][0]
    assert result["adopt"] is False and result["owned"] is False


def test_person_with_adopt_is_adopted():
    person = user(owned=False, licences=[PLAN1])
    result = _plan.decide(params(adopt=True), person, [read_write()], skus=skus(), groups=[])
    assert result["problems"] == []
    assert result["adopt"] is True
    assert any("adopt (mark as owned)" in line for line in result["plan"])


def test_adopt_refused_when_attribute_holds_another_value():
    person = user(owned=False, extra_attrs={"extensionAttribute15": "HR-4711"})
    result = _plan.decide(params(adopt=True), person, [read_write()], skus=skus(), groups=[])
    assert result["adopt"] is False
    assert len(result["problems"]) == 1 and "'HR-4711'" in result["problems"][0]
    assert "never overwrites" in result["problems"][0]


def test_unmarked_but_converged_user_is_converged():
    person = user(owned=False)
    result = _plan.decide(params(), person, [done(), done(ENV2)])
    assert result["problems"] == []
    assert result["converged"] is True and result["adopt"] is False and result["owned"] is False
    assert result["plan"] == ["nothing to change"]


def test_owned_disabled_account_without_account_enabled():
    result = _plan.decide(params(), user(enabled=False), [done()], skus=skus(), groups=[])
    assert len(result["problems"]) == 1
    assert "non_interactive_user_account_enabled: true" in result["problems"][0]
    assert "disabled in Microsoft Entra ID" in result["problems"][0]


def test_owned_disabled_account_with_account_enabled():
    result = _plan.decide(params(account_enabled=True), user(enabled=False), [done()], skus=skus(), groups=[])
    assert result["problems"] == []
    assert result["entra"] == {"action": "update", "changes": {"accountEnabled": True}}
    assert result["converged"] is False
    assert any("accountEnabled=True" in line for line in result["plan"])


@pytest.mark.parametrize("status", [absent, read_write])
def test_held_licence_on_unfinished_owned_user_is_not_borrowed_again(status):
    # crash recovery: an earlier run borrowed the licence and stopped before giving it back
    result = _plan.decide(params(), user(licences=[PLAN1]), [status()], skus=skus(p1_consumed=3), groups=[])
    assert result["problems"] == []  # no free seat, but none is needed
    assert result["license"]["borrow"] is False
    assert result["license"]["held"] == ["DYN365_ENTERPRISE_PLAN1"]
    assert result["license"]["give_back"] is True
    assert not any(line.startswith("borrow") for line in result["plan"])
    assert any(line.startswith("keep the licence DYN365_ENTERPRISE_PLAN1") for line in result["plan"])
    assert result["plan"][-1].startswith("give back the licence (DYN365_ENTERPRISE_PLAN1)")


def test_held_licence_on_finished_user_is_given_back():
    result = _plan.decide(params(), user(licences=[PLAN1]), [done()], skus=skus(), groups=[])
    assert result["converged"] is False and result["license"]["give_back"] is True
    assert result["pending"] == []


def test_converged_owned_user():
    result = _plan.decide(params(), user(), [done(), done(ENV2)])
    assert result["converged"] is True and result["owned"] is True
    assert result["plan"] == ["nothing to change"]
    assert result["problems"] == [] and result["pending"] == []
    assert result["license"]["borrow"] is False and result["license"]["give_back"] is False


def test_no_free_seat_lists_the_seats():
    result = _plan.decide(params(license_skus=["DYN365_ENTERPRISE_PLAN1", "DYN365_MISSING"]), user(),
                          [absent()], skus=skus(p1_consumed=3, p1_enabled=3), groups=[])
    assert len(result["problems"]) == 1
    problem = result["problems"][0]
    assert "No free seat" in problem and "DYN365_ENTERPRISE_PLAN1 3/3 used" in problem
    assert "not in this tenant: DYN365_MISSING" in problem


def test_no_free_seat_is_a_pending_wait_when_waiting_is_allowed():
    result = _plan.decide(params(seat_wait=900), user(), [absent()], skus=skus(p1_consumed=3, p1_enabled=3), groups=[])
    assert result["problems"] == []
    assert result["license"]["borrow"] is True and result["license"]["wait_for_seat"] is True
    assert any("wait up to 900 s for a free seat of DYN365_ENTERPRISE_PLAN1" in line for line in result["plan"])


def test_waiting_does_not_hide_a_sku_without_any_enabled_seat():
    result = _plan.decide(params(seat_wait=900), user(), [absent()], skus=skus(p1_consumed=0, p1_enabled=0), groups=[])
    assert len(result["problems"]) == 1 and "No free seat" in result["problems"][0]


def test_a_free_seat_means_no_wait():
    result = _plan.decide(params(seat_wait=900), user(), [absent()], skus=skus(), groups=[])
    assert result["problems"] == [] and result["license"]["wait_for_seat"] is False


def test_sku_without_dynamics_plan_is_a_problem():
    result = _plan.decide(params(license_skus=["ENTERPRISEPACK"]), user(), [absent()], skus=skus(), groups=[])
    assert len(result["problems"]) == 1
    assert "ENTERPRISEPACK includes no Dynamics 365 service plan" in result["problems"][0]
    assert result["license"]["candidates"] == [] and result["license"]["borrowable"] == []


def test_remove_license_false_gives_nothing_back():
    result = _plan.decide(params(remove_license=False), user(), [absent()], skus=skus(), groups=[])
    assert result["license"]["borrow"] is True and result["license"]["give_back"] is False
    assert not any(line.startswith("give back") for line in result["plan"])
    held = _plan.decide(params(remove_license=False), user(licences=[PLAN1]), [done()], skus=skus(), groups=[])
    assert held["license"]["give_back"] is False and held["converged"] is True


def test_groups_not_member_are_added():
    groups = [{"id": "g-1", "displayName": "Dynamics Sales", "member": False},
              {"id": "g-2", "displayName": "Integration", "member": True}]
    result = _plan.decide(params(), user(), [done()], skus=skus(), groups=groups)
    assert result["groups_to_add"] == ["g-1"]
    assert result["groups_to_join"] == [{"id": "g-1", "displayName": "Dynamics Sales"}]  # passed on, not read again
    assert result["converged"] is False
    assert "add %s to group Dynamics Sales" % UPN in result["plan"]


def test_owned_user_without_usage_location_needing_licence():
    result = _plan.decide(params(usage_location=None), user(usage=None), [absent()], skus=skus(), groups=[])
    assert len(result["problems"]) == 1 and "has no usage location" in result["problems"][0]


def test_force_sync_step_in_plan():
    status = absent()
    status["sync"] = "force"
    result = _plan.decide(params(), user(), [status], skus=skus(), groups=[])
    assert "%s: force the sync, grant System Administrator, set access mode Non-interactive" % ENV1 in result["plan"]


# -- decide_absent -------------------------------------------------------------------------------


def test_absent_unowned_without_adopt():
    result = _plan.decide_absent(params(state="absent"), user(owned=False), [done()])
    assert len(result["problems"]) == 1
    assert "will not remove it" in result["problems"][0]
    assert "non_interactive_user_adopt: true" in result["problems"][0]


def test_absent_unowned_with_adopt():
    result = _plan.decide_absent(params(state="absent", adopt=True), user(owned=False), [done()])
    assert result["problems"] == [] and result["adopt"] is True


def test_absent_owned_lists_removal():
    result = _plan.decide_absent(params(state="absent"), user(), [done(), absent(ENV2)])
    assert result["problems"] == [] and result["owned"] is True and result["converged"] is False
    assert result["plan"] == ["%s: remove roles, set access mode Read-Write" % ENV1,
                              "delete Entra user %s (restorable for 30 days)" % UPN]
    assert result["pending"] == [ENV1]


def test_absent_missing_user_is_converged():
    result = _plan.decide_absent(params(state="absent"), None, [absent()])
    assert result["converged"] is True and result["problems"] == [] and result["pending"] == []
    assert result["plan"] == ["nothing to change: %s does not exist" % UPN]


# -- has_dynamics_plan ---------------------------------------------------------------------------


def test_has_dynamics_plan():
    assert has_dynamics_plan(sku(PLAN1, "DYN365_ENTERPRISE_PLAN1", ["DYN365_ENTERPRISE_P1"])) is True
    assert has_dynamics_plan(sku(PLAN1, "X", ["d365_sales_pro"])) is True
    assert has_dynamics_plan(sku(E3, "ENTERPRISEPACK", ["DYN365_CDS_O365_P2"])) is False
    assert has_dynamics_plan(sku(E3, "ENTERPRISEPACK", ["EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE"])) is False
    assert has_dynamics_plan({"skuPartNumber": "EMPTY"}) is False


@pytest.mark.parametrize("url, hint", [
    ("https://contoso.crm4.dynamics.com/?x=1", "https://contoso.crm4.dynamics.com."),
    ("https://contoso.crm4.dynamics.com/api/data/v9.2", "https://contoso.crm4.dynamics.com."),
    ("https://contoso.crm4.dynamics.com/main.aspx#etn", "https://contoso.crm4.dynamics.com."),
    ("https://127.0.0.1:8443/dataverse/dev?x", "https://127.0.0.1:8443/dataverse/dev."),
])
def test_malformed_url_hint_is_the_base_url(url, hint):
    problems, _envs = _plan.check_inputs(params(environments=[url]))
    assert problems and problems[0].endswith("for example " + hint)


def test_environment_urls_are_checked_for_any_option_name():
    from ansible_collections.d365.identity.plugins.module_utils._domain.plan import check_environment_urls
    problems, urls = check_environment_urls(["https://a.crm4.dynamics.com/", "http://b", "https://A.crm4.dynamics.com"],
                                            "application_user_environments")
    assert urls == ["https://a.crm4.dynamics.com"]
    assert len(problems) == 2 and "not an https:// URL" in problems[0] and "listed twice" in problems[1]
    assert check_environment_urls([], "application_user_environments")[0] == [
        "application_user_environments is empty. Fix: list the Dataverse environment URLs, for example "
        "https://contoso.crm4.dynamics.com."]

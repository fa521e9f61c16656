# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.modules import non_interactive_users_audit_info
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    CALLER_ID, ENV_URL, ROOT_BU, SYSADMIN_T, FakeDataverse, role_id, systemuser)
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph, graph_sku, licence_state
from ansible_collections.d365.identity.tests.unit.fakes.identity import token_refused
from ansible_collections.d365.identity.tests.unit.fakes.base import Answer
from ansible_collections.d365.identity.tests.unit.fakes.graph import graph_error_body

PROD_URL = "https://contoso-prod.crm4.dynamics.com"
PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
SALES = "1e1a282c-9c54-43a2-9310-98ef728faace"
GROUP = "4a91a7ad-9dc2-45e1-bdf4-2f686e1678bb"
OWNED = {"extensionAttribute15": "d365.identity"}
# Entra object ids
PORTAL, SALESBOT, OLD, GONE, PERSON = ("0a000000-0000-4000-8000-00000000000%d" % i for i in range(1, 6))


class AuditGraph(FakeGraph):
    """FakeGraph plus GET directory/deletedItems/{id} (https://learn.microsoft.com/graph/api/directory-deleteditems-get)."""

    def handle(self, method, path, query, body, headers):
        prefix = "v1.0/directory/deletedItems/"
        if method == "GET" and path.startswith(prefix) and path != prefix + "microsoft.graph.user":
            user = self.deleted.get(path[len(prefix):].lower())
            if user is None:
                raise Answer(404, graph_error_body("Request_ResourceNotFound", "Resource does not exist."))
            return 200, self._project(self.view(user), query.get("$select"),
                                      tuple(user) + ("deletedDateTime",), "user"), None
        return super().handle(method, path, query, body, headers)


def user(oid, upn, enabled=True, licences=(), owned=True):
    return {"id": oid, "userPrincipalName": upn, "displayName": upn.split("@")[0], "accountEnabled": enabled,
            "licenseAssignmentStates": list(licences), "onPremisesExtensionAttributes": dict(OWNED) if owned else {}}


def sysadmin(bu=ROOT_BU):
    return [role_id(SYSADMIN_T, bu)]


@pytest.fixture
def tenant(tenant):
    tenant.module = non_interactive_users_audit_info
    tenant.graph = AuditGraph(
        users=[user(PORTAL, "svc-portal@contoso.onmicrosoft.com"),
               user(SALESBOT, "svc-sales@contoso.onmicrosoft.com",
                    licences=[licence_state(PLAN1), licence_state(SALES, group=GROUP)]),
               user(OLD, "svc-old@contoso.onmicrosoft.com", enabled=False),
               user(PERSON, "pat@contoso.onmicrosoft.com", owned=False)],
        deleted=[user(GONE, "svc-gone@contoso.onmicrosoft.com")],
        skus=[graph_sku(PLAN1, "DYN365_ENTERPRISE_PLAN1", consumed=1, enabled=3),
              graph_sku(SALES, "DYN365_ENTERPRISE_SALES", consumed=2, enabled=2)])
    tenant.add_environment(FakeDataverse(url=ENV_URL, users=[
        systemuser("5a000000-0000-4000-8000-000000000001", PORTAL, "svc-portal@contoso.onmicrosoft.com", accessmode=4,
                   roles=sysadmin()),
        systemuser("5a000000-0000-4000-8000-000000000002", SALESBOT, "svc-sales@contoso.onmicrosoft.com", accessmode=4,
                   roles=sysadmin()),
        systemuser("5a000000-0000-4000-8000-000000000003", OLD, "svc-old@contoso.onmicrosoft.com", accessmode=4,
                   isdisabled=True, roles=sysadmin()),
        systemuser("5a000000-0000-4000-8000-000000000004", GONE, "svc-gone@contoso.onmicrosoft.com", accessmode=4,
                   isdisabled=True),
        systemuser("5a000000-0000-4000-8000-000000000005", PERSON, "pat@contoso.onmicrosoft.com", accessmode=0)]))
    tenant.add_environment(FakeDataverse(url=PROD_URL, users=[
        systemuser("5b000000-0000-4000-8000-000000000001", PORTAL, "svc-portal@contoso.onmicrosoft.com", accessmode=4,
                   roles=sysadmin()),
        systemuser("5b000000-0000-4000-8000-000000000005", PERSON, "pat@contoso.onmicrosoft.com", accessmode=4)],
        max_non_interactive=5))
    return tenant


def rows_by(result, url):
    return {r["user"].split("@")[0]: r for r in result["rows"] if r["environment"] == url}


def test_lists_every_non_interactive_user_with_its_findings(tenant):
    result = tenant.run(environments=[ENV_URL, PROD_URL])
    assert result["changed"] is False and "failed" not in result
    dev = rows_by(result, ENV_URL)
    # Pat is Read-Write in dev (not listed); the client's own application user is accessmode 4 but never listed.
    assert sorted(dev) == ["svc-gone", "svc-old", "svc-portal", "svc-sales"]
    assert CALLER_ID not in [r["systemuserid"] for r in result["rows"]]
    assert dev["svc-portal"]["status"] == "ok" and dev["svc-portal"]["findings"] == []
    assert dev["svc-portal"]["owned"] is True and dev["svc-portal"]["roles"] == ["Systemadministrator"]
    assert dev["svc-sales"]["status"] == "seat wasted"
    assert dev["svc-sales"]["licences"] == ["DYN365_ENTERPRISE_PLAN1", "DYN365_ENTERPRISE_SALES (via group %s)" % GROUP]
    assert any("DYN365_ENTERPRISE_PLAN1" in f and "give it back" in f for f in dev["svc-sales"]["findings"])
    assert any("remove the user from the group" in f for f in dev["svc-sales"]["findings"])
    assert (dev["svc-old"]["status"], dev["svc-old"]["entra"], dev["svc-old"]["dataverse"]) == \
        ("broken", "disabled", "disabled")
    assert dev["svc-gone"]["entra"] == "deleted" and dev["svc-gone"]["status"] == "broken"
    assert dev["svc-gone"]["owned"] is None and dev["svc-gone"]["roles"] == []
    assert any("deleted on 2026-01-05" in f for f in dev["svc-gone"]["findings"])
    prod = rows_by(result, PROD_URL)
    assert sorted(prod) == ["pat", "svc-portal"]
    assert prod["pat"]["owned"] is False and prod["pat"]["status"] == "ok"
    slots = {e["url"]: e["slots"] for e in result["environments"]}
    assert slots == {ENV_URL: {"used": 4, "max": 7, "free": 3}, PROD_URL: {"used": 2, "max": 5, "free": 3}}
    assert result["summary"] == {"environments": 2, "rows": 6, "users": 5, "owned": 3, "not_owned": 1,
                                 "seats_wasted": 1, "broken": 2, "errors": 0}
    assert result["errors"] == [] and tenant.writes() == []


def test_reads_once_per_environment_and_each_user_once(tenant):
    tenant.run(environments=[ENV_URL, PROD_URL, ENV_URL + "/"])  # an environment listed twice is read once
    for url in (ENV_URL, PROD_URL):
        env = tenant.environment(url)
        queries = [r for r in env.sent("GET") if r["path"] == "systemusers"]
        assert len(queries) == 1
        assert queries[0]["params"]["$filter"] == "accessmode eq 4 and applicationid eq null"
        assert queries[0]["params"]["$expand"].startswith("systemuserroles_association($select=roleid,name")
        assert [r["path"] for r in env.sent()] == ["systemusers", "RetrieveOrganizationResources()"]
    user_reads = [r["path"] for r in tenant.graph.sent("GET") if r["path"].startswith("v1.0/users/")]
    # svc-portal and pat are in both environments: each Entra user is read once.
    assert sorted(user_reads) == sorted("v1.0/users/" + oid for oid in (PORTAL, SALESBOT, OLD, GONE, PERSON))
    assert "onPremisesExtensionAttributes" in tenant.graph.sent("GET")[0]["params"]["$select"]
    deleted = [r["path"] for r in tenant.graph.sent("GET") if "deletedItems" in r["path"]]
    assert deleted == ["v1.0/directory/deletedItems/" + GONE]  # only for the user Graph answered 404 for
    assert [r["path"] for r in tenant.graph.sent("GET")].count("v1.0/subscribedSkus") == 1


def test_user_gone_for_good_and_no_skus_needed(tenant):
    tenant.graph.deleted.clear()
    tenant.environment(PROD_URL).organization_resources = False  # the cap falls back to 7, used to the rows
    result = tenant.run(environments=[PROD_URL, ENV_URL], owner_attribute=3)
    dev = rows_by(result, ENV_URL)
    assert dev["svc-gone"]["entra"] == "not found" and dev["svc-gone"]["status"] == "broken"
    assert dev["svc-portal"]["owned"] is False  # the mark is in attribute 15, not 3
    assert [e["url"] for e in result["environments"]] == [PROD_URL, ENV_URL]
    assert result["environments"][0]["slots"] == {"used": 2, "max": 7, "free": 5}


def test_an_unreadable_environment_and_graph_refusal_do_not_stop_the_audit(tenant):
    tenant.environment(PROD_URL).refuse_tokens(token_refused(
        PROD_URL + "/.default", "invalid_resource", 500011, "The resource principal named %s was not found in the "
        "tenant." % PROD_URL))
    tenant.graph.fail_always(tenant.graph.error(403, "Authorization_RequestDenied",
                                                "Insufficient privileges to complete the operation."), "get_user")
    result = tenant.run(environments=[ENV_URL, PROD_URL])
    assert "failed" not in result
    assert [e["error"] is None for e in result["environments"]] == [True, False]
    assert result["environments"][1]["slots"] is None
    assert len(rows_by(result, ENV_URL)) == 4 and rows_by(result, PROD_URL) == {}
    assert {r["entra"] for r in result["rows"]} == {"unknown"}
    # One refusal for every user: Graph is asked once, and the error is reported once.
    assert len(tenant.graph.calls_to("get_user")) == 1
    assert len(result["errors"]) == 2 and result["summary"]["errors"] == 2
    assert any(e.startswith(PROD_URL) for e in result["errors"])
    assert any("User.Read.All" in e and e.startswith("Entra users ") for e in result["errors"])


def test_bad_environment_url_fails_before_any_request(tenant):
    result = tenant.run(environments=[ENV_URL, "http://contoso.crm4.dynamics.com"])
    assert result["failed"] and "must be an https:// URL" in result["msg"]
    assert tenant.graph.requests == [] and tenant.environment(ENV_URL).requests == []


def test_check_mode_reads_the_same(tenant):
    result = tenant.run(check=True, environments=[ENV_URL])
    assert len(result["rows"]) == 4 and tenant.writes() == []

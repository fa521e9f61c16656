# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._clients.graph import GraphClient
from ansible_collections.d365.identity.plugins.module_utils._domain import user_names as _entra
from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError
from ansible_collections.d365.identity.plugins.modules import entra_user
from ansible_collections.d365.identity.tests.unit.fakes.base import Lost
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph
from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, over_session
from ansible_collections.d365.identity.tests.unit.fakes.graph import graph_error_body

PASSWORD = "Sup3r-Secret!pw"
UPN = "svc-d365@contoso.onmicrosoft.com"
MARK = {"onPremisesExtensionAttributes": {"extensionAttribute15": "d365.identity"}}
PERSON = {"id": "11111111-2222-3333-4444-555555555555", "userPrincipalName": UPN, "displayName": "Svc",
          "accountEnabled": True, "usageLocation": "GB", "mailNickname": "svc-d365"}
EXISTING = dict(PERSON, **MARK)  # a user the collection created


@pytest.fixture
def tenant(tenant):
    tenant.module = entra_user
    tenant.defaults["user_principal_name"] = UPN
    return tenant


def create_args():
    return {"display_name": "Svc", "password": PASSWORD, "usage_location": "gb"}


def kinds(graph):
    return [call[0] for call in graph.writes()]


# -- create -------------------------------------------------------------------------

def test_create_sends_required_properties_and_password_only_in_post(tenant):
    graph = tenant.graph
    result = tenant.run(diff=True, **create_args())
    assert result["changed"] is True
    (post,) = graph.writes()
    body = post[1]
    assert post[0] == "create_user"
    assert body["passwordProfile"] == {"password": PASSWORD, "forceChangePasswordNextSignIn": False}
    assert body["accountEnabled"] is True and body["mailNickname"] == "svc-d365" and body["usageLocation"] == "GB"
    assert result["user"] == {"id": result["id"], "userPrincipalName": UPN, "displayName": "Svc",
                              "accountEnabled": True, "usageLocation": "GB", "mailNickname": "svc-d365",
                              # for m365_license's known_user: a new user holds no licence and carries the mark
                              "licenseAssignmentStates": [], "onPremisesSyncEnabled": None,
                              "onPremisesExtensionAttributes": {"extensionAttribute15": "d365.identity"}}
    assert graph.user(UPN)["id"] == result["id"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["usageLocation"] == "GB"
    assert "passwordProfile" not in result["diff"]["after"]


def test_check_mode_create_writes_nothing_and_returns_placeholder(tenant):
    result = tenant.run(check=True, **create_args())
    assert result["changed"] is True
    assert result["id"] == result["user"]["id"] == "00000000-0000-0000-0000-000000000000"
    assert tenant.graph.writes() == [] and tenant.graph.users == {}


@pytest.mark.parametrize("missing", ["display_name", "password"])
def test_create_needs_display_name_and_password(tenant, missing):
    args = create_args()
    del args[missing]
    result = tenant.run(check=True, **args)
    assert result["failed"] is True
    assert "creating it needs %s" % missing in result["msg"]
    assert tenant.graph.writes() == []


def test_force_change_password_is_sent_when_asked(tenant):
    tenant.run(force_change_password_next_sign_in=True, **create_args())
    assert tenant.graph.writes()[0][1]["passwordProfile"]["forceChangePasswordNextSignIn"] is True


def test_dropped_connection_after_create_applied_does_not_duplicate(tenant):
    graph = tenant.graph = FakeGraph(replication_lag=2)
    graph.fail("create_user", Lost(graph.no_answer("POST", "users")))
    result = tenant.run(**create_args())
    assert result["changed"] is True
    assert kinds(graph) == ["create_user"]
    assert len(graph.users) == 1
    assert result["id"] == next(iter(graph.users.values()))["id"]


def test_dropped_connection_before_create_posts_again(tenant):
    graph = tenant.graph
    graph.fail("create_user", graph.no_answer("POST", "users"))
    result = tenant.run(**create_args())
    assert kinds(graph) == ["create_user", "create_user"]
    assert len(graph.users) == 1 and result["changed"] is True


def test_5xx_on_create_is_treated_as_ambiguous(tenant):
    graph = tenant.graph
    graph.fail("create_user", Lost(graph.error(500, "generalException", "General exception while processing.", "POST")))
    result = tenant.run(**create_args())
    assert kinds(graph) == ["create_user"] and result["changed"] is True


def test_client_error_on_create_is_not_retried(tenant):
    # Graph refuses a UPN whose domain is not one of the tenant's verified domains.
    result = tenant.run(user_principal_name="svc-d365@fabrikam.com", **create_args())
    assert result["failed"] is True and "domain portion of the userPrincipalName" in result["msg"]
    assert result["status"] == 400 and result["error_code"] == "Request_BadRequest"
    assert len(tenant.graph.writes()) == 1 and tenant.graph.users == {}


def test_conflict_during_404_window_adopts_the_existing_user(tenant):
    # The first GET misses a user created a moment ago; POST answers duplicate UPN.
    graph = tenant.graph = FakeGraph([EXISTING], replication_lag=1)
    result = tenant.run(**create_args())
    assert result["id"] == EXISTING["id"] and result["changed"] is False
    assert kinds(graph) == ["create_user"] and len(graph.users) == 1


def test_conflict_during_404_window_then_updates(tenant):
    graph = tenant.graph = FakeGraph([EXISTING], replication_lag=1)
    result = tenant.run(display_name="Other", password=PASSWORD)
    assert result["changed"] is True and result["user"]["displayName"] == "Other"
    assert kinds(graph) == ["create_user", "update_user"]
    assert graph.user(UPN)["displayName"] == "Other"


def test_conflict_with_deleted_user_names_the_fix(tenant):
    graph = tenant.graph
    graph.fail("create_user", graph.upn_taken_error())
    result = tenant.run(**create_args())
    assert result["failed"] is True
    assert "deleted" in result["msg"] and "choose another UPN" in result["msg"]


def test_gives_up_after_repeated_unanswered_creates(tenant):
    graph = tenant.graph
    graph.fail("create_user", *[graph.no_answer("POST", "users")] * 3)
    result = tenant.run(**create_args())
    assert result["failed"] is True and "no answer" in result["msg"]
    assert len(graph.writes()) == 3 and graph.users == {}


# -- update -------------------------------------------------------------------------

def test_existing_user_unchanged_writes_nothing(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(diff=True, user_principal_name=UPN.upper(), display_name="Svc", usage_location="gb",
                        password=PASSWORD, account_enabled=True)
    assert result["changed"] is False
    assert graph.writes() == []
    assert {k: result["user"][k] for k in PERSON} == PERSON and result["id"] == EXISTING["id"]
    assert "passwordProfile" not in result["user"]


def test_only_set_options_are_managed(tenant):
    graph = tenant.graph = FakeGraph([dict(EXISTING, mailNickname="legacy", usageLocation=None)])
    result = tenant.run(diff=True, account_enabled=False)
    assert result["changed"] is True
    assert graph.writes() == [("update_user", EXISTING["id"], {"accountEnabled": False})]
    assert result["diff"] == {"before": {"userPrincipalName": UPN, "accountEnabled": True},
                              "after": {"userPrincipalName": UPN, "accountEnabled": False}}
    assert result["user"]["mailNickname"] == "legacy"
    assert graph.user(UPN)["accountEnabled"] is False


def test_update_check_mode_writes_nothing(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(check=True, display_name="New name")
    assert result["changed"] is True and result["user"]["displayName"] == "New name"
    assert graph.writes() == [] and graph.user(UPN)["displayName"] == "Svc"


def test_update_password_always_patches_password(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(diff=True, password=PASSWORD, update_password="always")
    assert result["changed"] is True
    assert graph.writes() == [("update_user", EXISTING["id"], {"passwordProfile": {
        "password": PASSWORD, "forceChangePasswordNextSignIn": False}})]


def test_update_password_on_create_leaves_existing_password(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(password=PASSWORD, force_change_password_next_sign_in=True)
    assert result["changed"] is False and graph.writes() == []


# -- absent -------------------------------------------------------------------------

def test_absent_deletes(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(diff=True, state="absent")
    assert result["changed"] is True and graph.users == {}
    assert graph.writes() == [("delete_user", EXISTING["id"])]
    assert EXISTING["id"] in graph.deleted  # soft-deleted: restorable for 30 days
    assert result["diff"]["after"] == {} and result["diff"]["before"]["displayName"] == "Svc"


def test_absent_when_gone_is_a_noop(tenant):
    result = tenant.run(state="absent")
    assert (result["changed"], result["user"], result["id"]) == (False, None, None)
    assert tenant.graph.writes() == []


def test_absent_check_mode(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(check=True, state="absent")
    assert result["changed"] is True and graph.writes() == [] and graph.users


def test_absent_dropped_delete_that_was_applied(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    graph.fail("delete_user", Lost(graph.no_answer("DELETE", "users/" + EXISTING["id"])))
    result = tenant.run(state="absent")
    assert result["changed"] is True and graph.users == {}
    assert len(graph.writes()) == 1


def test_absent_dropped_delete_not_applied_is_sent_again(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    graph.fail("delete_user", graph.no_answer("DELETE", "users/" + EXISTING["id"]))
    result = tenant.run(state="absent")
    assert result["changed"] is True and graph.users == {}
    assert len(graph.writes()) == 2


# -- validation ---------------------------------------------------------------------

@pytest.mark.parametrize("value, hint", [("UK", "for UK use GB"), ("GBR", "ISO 3166"), ("zz", "ISO 3166")])
def test_usage_location_validated_before_any_request(tenant, value, hint):
    result = tenant.run(display_name="x", password=PASSWORD, usage_location=value)
    assert result["failed"] is True and hint in result["msg"]
    assert tenant.graph.writes() == []


def test_bad_upn_is_refused(tenant):
    result = tenant.run(user_principal_name="no-domain")
    assert result["failed"] is True and "name@domain" in result["msg"]
    assert tenant.graph.calls == [] and tenant.graph.requests == []


def test_bad_mail_nickname_is_refused(tenant):
    result = tenant.run(mail_nickname="has space")
    assert result["failed"] is True and "mail_nickname" in result["msg"] and "'hasspace'" in result["msg"]


@pytest.mark.parametrize("upn, nickname", [
    ("svc-d365@contoso.com", "svc-d365"),
    ("first last(x)@contoso.com", "firstlastx"),
    (".dots.@contoso.com", "dots"),
    ("jörg.mü@contoso.com", "jrg.m"),
    ("a" * 80 + "@contoso.com", "a" * 64),
])
def test_mail_nickname_from_upn(upn, nickname):
    assert _entra.mail_nickname_from_upn(upn) == nickname


def test_mail_nickname_from_unusable_upn():
    with pytest.raises(ConfigError, match="set mail_nickname"):
        _entra.mail_nickname_from_upn("äö@contoso.com")


def test_usage_location_normalised():
    assert _entra.usage_location(" us ") == "US"
    assert _entra.usage_location(None) is None
    assert len(_entra.ISO_3166_ALPHA2) == 249


# -- GraphClient.find_user_eventually (the new-user 404 window) ----------------------

NOT_FOUND = FakeResponse(404, graph_error_body("Request_ResourceNotFound", "Resource '%s' does not exist or one of "
                                               "its queried reference-property objects are not present." % UPN))


def graph_client(script, sleeps):
    return over_session(GraphClient, script, "https://graph.example", "https://graph.example/.default",
                        sleep=sleeps.append)


def test_find_user_eventually_waits_out_404(sleeps):
    client, session = graph_client([NOT_FOUND, NOT_FOUND, FakeResponse(200, {"id": "1"})], sleeps)
    assert client.find_user_eventually(UPN, ("id",)) == {"id": "1"}
    assert len(session.calls) == 3 and sleeps == [0.5, 1.0]
    assert session.calls[0]["params"] == {"$select": "id"}


def test_find_user_eventually_gives_up_after_window(sleeps):
    client, session = graph_client([NOT_FOUND] * 10, sleeps)
    assert client.find_user_eventually(UPN, window=3.0) is None
    assert sum(sleeps) == 3.0 and len(session.calls) == len(sleeps) + 1


# -- ownership ----------------------------------------------------------------------

def test_create_marks_the_user_in_the_create_request(tenant):
    graph = tenant.graph
    tenant.run(owner_attribute=7, **create_args())
    (post,) = graph.writes()
    assert post[1]["onPremisesExtensionAttributes"] == {"extensionAttribute7": "d365.identity"}
    assert graph.user(UPN)["onPremisesExtensionAttributes"]["extensionAttribute7"] == "d365.identity"


def test_unowned_user_that_needs_a_change_fails_before_any_write(tenant):
    graph = tenant.graph = FakeGraph([PERSON])
    result = tenant.run(display_name="Integration", account_enabled=True)
    assert result["failed"] is True and graph.writes() == []
    assert UPN in result["msg"] and "non_interactive_user_adopt: true" in result["msg"] and "adopt: true" in result["msg"]


def test_unowned_user_that_needs_nothing_is_ok_without_writes(tenant):
    graph = tenant.graph = FakeGraph([PERSON])
    result = tenant.run(display_name="Svc", account_enabled=True)
    assert result["changed"] is False and graph.writes() == []


def test_unowned_user_in_check_mode_fails_too(tenant):
    graph = tenant.graph = FakeGraph([PERSON])
    result = tenant.run(check=True, display_name="Other")
    assert result["failed"] is True and graph.writes() == []


def test_adopt_marks_the_user_in_the_same_patch(tenant):
    graph = tenant.graph = FakeGraph([PERSON])
    result = tenant.run(display_name="Integration", adopt=True)
    assert result["changed"] is True and result["adopted"] is True
    assert graph.writes() == [("update_user", PERSON["id"], dict({"displayName": "Integration"}, **MARK))]


def test_adopt_never_overwrites_another_value(tenant):
    taken = dict(PERSON, onPremisesExtensionAttributes={"extensionAttribute15": "cost-centre-42"})
    graph = tenant.graph = FakeGraph([taken])
    result = tenant.run(display_name="Integration", adopt=True)
    assert result["failed"] is True and graph.writes() == []
    assert "cost-centre-42" in result["msg"] and "owner_attribute" in result["msg"]


def test_adopt_refuses_a_user_synced_from_on_premises(tenant):
    graph = tenant.graph = FakeGraph([dict(PERSON, onPremisesSyncEnabled=True)])
    result = tenant.run(display_name="Integration", adopt=True)
    assert result["failed"] is True and graph.writes() == [] and "on-premises" in result["msg"]


def test_absent_refuses_a_user_the_collection_does_not_own(tenant):
    graph = tenant.graph = FakeGraph([PERSON])
    result = tenant.run(state="absent")
    assert result["failed"] is True and graph.writes() == [] and "delete" in result["msg"]


def test_create_that_meets_a_person_never_changes_her(tenant):
    # Our first read missed her (404 window); the POST answers duplicate UPN: she is not ours.
    graph = tenant.graph = FakeGraph([PERSON], replication_lag=1)
    result = tenant.run(display_name="Integration", password=PASSWORD)
    assert result["failed"] is True and kinds(graph) == ["create_user"]
    assert graph.user(UPN)["displayName"] == "Svc"


# -- known_missing: an earlier task of the run found the user missing ---------------------

def test_known_missing_creates_without_reading(tenant):
    graph = tenant.graph
    result = tenant.run(known_missing=True, **create_args())
    assert result["changed"] is True and len(graph.users) == 1
    assert graph.names() == ["create_user"]  # no GET before the POST
    assert [r["method"] for r in graph.sent()] == ["POST"]
    assert graph.user(UPN)["onPremisesExtensionAttributes"]["extensionAttribute15"] == "d365.identity"


def test_known_missing_in_check_mode_sends_nothing(tenant):
    result = tenant.run(check=True, known_missing=True, **create_args())
    assert result["changed"] is True and result["id"] == "00000000-0000-0000-0000-000000000000"
    assert tenant.graph.sent() == []


def test_known_missing_but_created_meanwhile_by_us_is_managed_as_existing(tenant):
    # Another run created the user (with the mark) after the read phase: the POST meets it.
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(known_missing=True, display_name="Other", password=PASSWORD)
    assert result["id"] == EXISTING["id"] and result["changed"] is True
    assert kinds(graph) == ["create_user", "update_user"] and len(graph.users) == 1
    assert graph.user(UPN)["displayName"] == "Other"


def test_known_missing_but_someone_elses_user_is_never_changed(tenant):
    graph = tenant.graph = FakeGraph([PERSON])  # no mark: not the collection's
    result = tenant.run(known_missing=True, display_name="Other", password=PASSWORD)
    assert result["failed"] is True and "was not created by d365.identity" in result["msg"]
    assert kinds(graph) == ["create_user"] and graph.user(UPN)["displayName"] == "Svc"


def test_known_missing_is_ignored_for_an_object_id_and_for_absent(tenant):
    graph = tenant.graph = FakeGraph([EXISTING])
    result = tenant.run(known_missing=True, user_principal_name=EXISTING["id"], display_name="Svc")
    assert result["changed"] is False and graph.names() == ["find_user"]
    result = tenant.run(known_missing=True, state="absent")
    assert result["changed"] is True and graph.users == {}


def test_returned_user_carries_licences_and_mark_for_m365_license(tenant):
    created = tenant.run(known_missing=True, **create_args())
    assert created["user"]["licenseAssignmentStates"] == []
    assert created["user"]["onPremisesExtensionAttributes"] == {"extensionAttribute15": "d365.identity"}
    licence = {"skuId": "ea126fc5-a19e-42e2-a731-da9d437bffcf", "disabledPlans": [], "assignedByGroup": None}
    tenant.graph = FakeGraph([dict(EXISTING, licenseAssignmentStates=[licence])])
    read = tenant.run(display_name="Svc")
    assert [s["skuId"] for s in read["user"]["licenseAssignmentStates"]] == [licence["skuId"]]
    assert read["user"]["onPremisesExtensionAttributes"]["extensionAttribute15"] == "d365.identity"


def test_adopt_returns_the_mark_as_written(tenant):
    tenant.graph = FakeGraph([dict(PERSON, onPremisesExtensionAttributes={"extensionAttribute1": "HR"})])
    result = tenant.run(adopt=True, display_name="Svc")
    assert result["adopted"] is True
    attributes = result["user"]["onPremisesExtensionAttributes"]
    assert (attributes["extensionAttribute1"], attributes["extensionAttribute15"]) == ("HR", "d365.identity")

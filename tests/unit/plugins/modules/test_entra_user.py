# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils._domain import user_names as _entra
from ansible_collections.d365.identity.plugins.module_utils._errors import (
    ApiError, ConfigError, ConflictError, NotFoundError, TransportError)
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module
from ansible_collections.d365.identity.plugins.modules import entra_user

ARGS = {"tenant_id": "t", "client_id": "c", "client_secret": "client-secret-for-unit-tests"}
PASSWORD = "Sup3r-Secret!pw"
UPN = "svc-d365@contoso.onmicrosoft.com"
MARK = {"onPremisesExtensionAttributes": {"extensionAttribute15": "d365.identity"}}
PERSON = {"id": "11111111-2222-3333-4444-555555555555", "userPrincipalName": UPN, "displayName": "Svc",
          "accountEnabled": True, "usageLocation": "GB", "mailNickname": "svc-d365"}
EXISTING = dict(PERSON, **MARK)  # a user the collection created


class FakeGraph:
    """GraphClient stand-in: users keyed by lower-case UPN; scripted failures per method."""

    def __init__(self, users=(), fail=None, hidden_reads=0):
        self.users = {u["userPrincipalName"].lower(): dict(u) for u in users}
        self.fail = {k: list(v) for k, v in (fail or {}).items()}
        self.hidden_reads = hidden_reads  # new-user 404 window: this many reads miss every user
        self.calls = []

    def _maybe_fail(self, name):
        script = self.fail.get(name)
        if script:
            error = script.pop(0)
            if error is not None:
                raise error

    def _lookup(self, key):
        key = key.lower()
        return self.users.get(key) or next((u for u in self.users.values() if u["id"] == key), None)

    def find_user(self, key, select=None):
        self.calls.append(("GET", key))
        if self.hidden_reads:
            self.hidden_reads -= 1
            return None
        user = self._lookup(key)
        return {k: user.get(k) for k in select} if user and select else (dict(user) if user else None)

    def find_user_eventually(self, key, select=None, window=10.0):
        for _attempt in range(6):
            user = self.find_user(key, select)
            if user is not None:
                return user
        return None

    def create_user(self, body):
        self.calls.append(("POST", dict(body)))
        self._maybe_fail("create_before")
        if body["userPrincipalName"].lower() in self.users:
            raise ConflictError("Graph POST /v1.0/users failed: HTTP 400 Request_BadRequest: Another object ...",
                                status=400, code="Request_BadRequest")
        user = {k: v for k, v in body.items() if k != "passwordProfile"}
        user["id"] = "99999999-0000-0000-0000-%012d" % len(self.calls)
        self.users[user["userPrincipalName"].lower()] = user
        self._maybe_fail("create_after")  # applied, then the answer got lost
        return {"id": user["id"], "userPrincipalName": user["userPrincipalName"], "displayName": user["displayName"],
                "businessPhones": []}

    def update_user(self, user_id, body):
        self.calls.append(("PATCH", user_id, dict(body)))
        user = self._lookup(user_id)
        user.update({k: v for k, v in body.items() if k != "passwordProfile"})

    def delete_user(self, user_id):
        self.calls.append(("DELETE", user_id))
        self._maybe_fail("delete_before")
        user = self._lookup(user_id)
        if user is None:
            raise NotFoundError("gone", status=404)
        del self.users[user["userPrincipalName"].lower()]
        self._maybe_fail("delete_after")

    def writes(self):
        return [c for c in self.calls if c[0] != "GET"]


def run(monkeypatch, capsys, graph, check=False, diff=False, **args):
    monkeypatch.setattr(D365Module, "graph_client", lambda self: graph)
    params = dict(ARGS, user_principal_name=UPN)
    params.update(args)
    params["_ansible_check_mode"] = check
    params["_ansible_diff"] = diff
    with patch_module_args(params), pytest.raises(SystemExit):
        entra_user.main()
    out = capsys.readouterr().out
    assert PASSWORD not in out  # never returned, logged or put in the diff
    return json.loads(out)


def create_args():
    return {"display_name": "Svc", "password": PASSWORD, "usage_location": "gb"}


# -- create -------------------------------------------------------------------------

def test_create_sends_required_properties_and_password_only_in_post(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, diff=True, **create_args())
    assert result["changed"] is True
    (post,) = graph.writes()
    body = post[1]
    assert body["passwordProfile"] == {"password": PASSWORD, "forceChangePasswordNextSignIn": False}
    assert body["accountEnabled"] is True and body["mailNickname"] == "svc-d365" and body["usageLocation"] == "GB"
    assert result["user"] == {"id": result["id"], "userPrincipalName": UPN, "displayName": "Svc",
                              "accountEnabled": True, "usageLocation": "GB", "mailNickname": "svc-d365"}
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["usageLocation"] == "GB"
    assert "passwordProfile" not in result["diff"]["after"]


def test_check_mode_create_writes_nothing_and_returns_placeholder(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, check=True, **create_args())
    assert result["changed"] is True
    assert result["id"] == result["user"]["id"] == "00000000-0000-0000-0000-000000000000"
    assert graph.writes() == []


@pytest.mark.parametrize("missing", ["display_name", "password"])
def test_create_needs_display_name_and_password(monkeypatch, capsys, missing):
    args = create_args()
    del args[missing]
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, check=True, **args)
    assert result["failed"] is True
    assert "creating it needs %s" % missing in result["msg"]
    assert graph.writes() == []


def test_force_change_password_is_sent_when_asked(monkeypatch, capsys):
    graph = FakeGraph()
    run(monkeypatch, capsys, graph, force_change_password_next_sign_in=True, **create_args())
    assert graph.writes()[0][1]["passwordProfile"]["forceChangePasswordNextSignIn"] is True


def test_dropped_connection_after_create_applied_does_not_duplicate(monkeypatch, capsys):
    graph = FakeGraph(fail={"create_after": [TransportError("no answer")]}, hidden_reads=2)
    result = run(monkeypatch, capsys, graph, **create_args())
    assert result["changed"] is True
    assert [c[0] for c in graph.writes()] == ["POST"]
    assert len(graph.users) == 1
    assert result["id"] == next(iter(graph.users.values()))["id"]


def test_dropped_connection_before_create_posts_again(monkeypatch, capsys):
    graph = FakeGraph(fail={"create_before": [TransportError("no answer")]})
    result = run(monkeypatch, capsys, graph, **create_args())
    assert [c[0] for c in graph.writes()] == ["POST", "POST"]
    assert len(graph.users) == 1 and result["changed"] is True


def test_5xx_on_create_is_treated_as_ambiguous(monkeypatch, capsys):
    graph = FakeGraph(fail={"create_after": [ApiError("HTTP 500", status=500)]})
    result = run(monkeypatch, capsys, graph, **create_args())
    assert [c[0] for c in graph.writes()] == ["POST"] and result["changed"] is True


def test_client_error_on_create_is_not_retried(monkeypatch, capsys):
    graph = FakeGraph(fail={"create_before": [ApiError("HTTP 400 bad domain", status=400)]})
    result = run(monkeypatch, capsys, graph, **create_args())
    assert result["failed"] is True and "bad domain" in result["msg"]
    assert len(graph.writes()) == 1


def test_conflict_during_404_window_adopts_the_existing_user(monkeypatch, capsys):
    # The first GET misses a user created a moment ago; POST answers duplicate UPN.
    graph = FakeGraph(users=[EXISTING], hidden_reads=1)
    result = run(monkeypatch, capsys, graph, **create_args())
    assert result["id"] == EXISTING["id"] and result["changed"] is False
    assert [c[0] for c in graph.writes()] == ["POST"]


def test_conflict_during_404_window_then_updates(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING], hidden_reads=1)
    result = run(monkeypatch, capsys, graph, display_name="Other", password=PASSWORD)
    assert result["changed"] is True and result["user"]["displayName"] == "Other"
    assert [c[0] for c in graph.writes()] == ["POST", "PATCH"]


def test_conflict_with_deleted_user_names_the_fix(monkeypatch, capsys):
    graph = FakeGraph(fail={"create_before": [ConflictError("Another object with the same value", status=400)]})
    result = run(monkeypatch, capsys, graph, **create_args())
    assert result["failed"] is True
    assert "deleted" in result["msg"] and "choose another user_principal_name" in result["msg"]


def test_gives_up_after_repeated_unanswered_creates(monkeypatch, capsys):
    graph = FakeGraph(fail={"create_before": [TransportError("no answer")] * 3})
    result = run(monkeypatch, capsys, graph, **create_args())
    assert result["failed"] is True and "no answer" in result["msg"]
    assert len(graph.writes()) == 3 and graph.users == {}


# -- update -------------------------------------------------------------------------

def test_existing_user_unchanged_writes_nothing(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING])
    result = run(monkeypatch, capsys, graph, diff=True, user_principal_name=UPN.upper(), display_name="Svc",
                 usage_location="gb", password=PASSWORD, account_enabled=True)
    assert result["changed"] is False
    assert graph.writes() == []
    assert result["user"] == PERSON and result["id"] == EXISTING["id"]


def test_only_set_options_are_managed(monkeypatch, capsys):
    graph = FakeGraph(users=[dict(EXISTING, mailNickname="legacy", usageLocation=None)])
    result = run(monkeypatch, capsys, graph, diff=True, account_enabled=False)
    assert result["changed"] is True
    assert graph.writes() == [("PATCH", EXISTING["id"], {"accountEnabled": False})]
    assert result["diff"] == {"before": {"userPrincipalName": UPN, "accountEnabled": True},
                              "after": {"userPrincipalName": UPN, "accountEnabled": False}}
    assert result["user"]["mailNickname"] == "legacy"


def test_update_check_mode_writes_nothing(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING])
    result = run(monkeypatch, capsys, graph, check=True, display_name="New name")
    assert result["changed"] is True and result["user"]["displayName"] == "New name"
    assert graph.writes() == []


def test_update_password_always_patches_password(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING])
    result = run(monkeypatch, capsys, graph, diff=True, password=PASSWORD, update_password="always")
    assert result["changed"] is True
    assert graph.writes() == [("PATCH", EXISTING["id"], {"passwordProfile": {
        "password": PASSWORD, "forceChangePasswordNextSignIn": False}})]


def test_update_password_on_create_leaves_existing_password(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING])
    result = run(monkeypatch, capsys, graph, password=PASSWORD, force_change_password_next_sign_in=True)
    assert result["changed"] is False and graph.writes() == []


# -- absent -------------------------------------------------------------------------

def test_absent_deletes(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING])
    result = run(monkeypatch, capsys, graph, diff=True, state="absent")
    assert result["changed"] is True and graph.users == {}
    assert graph.writes() == [("DELETE", EXISTING["id"])]
    assert result["diff"]["after"] == {} and result["diff"]["before"]["displayName"] == "Svc"


def test_absent_when_gone_is_a_noop(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, state="absent")
    assert (result["changed"], result["user"], result["id"]) == (False, None, None)
    assert graph.writes() == []


def test_absent_check_mode(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING])
    result = run(monkeypatch, capsys, graph, check=True, state="absent")
    assert result["changed"] is True and graph.writes() == [] and graph.users


def test_absent_dropped_delete_that_was_applied(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING], fail={"delete_after": [TransportError("no answer")]})
    result = run(monkeypatch, capsys, graph, state="absent")
    assert result["changed"] is True and graph.users == {}
    assert len(graph.writes()) == 1


def test_absent_dropped_delete_not_applied_is_sent_again(monkeypatch, capsys):
    graph = FakeGraph(users=[EXISTING], fail={"delete_before": [TransportError("no answer")]})
    result = run(monkeypatch, capsys, graph, state="absent")
    assert result["changed"] is True and graph.users == {}
    assert len(graph.writes()) == 2


# -- validation ---------------------------------------------------------------------

@pytest.mark.parametrize("value, hint", [("UK", "for UK use GB"), ("GBR", "ISO 3166"), ("zz", "ISO 3166")])
def test_usage_location_validated_before_any_request(monkeypatch, capsys, value, hint):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, display_name="x", password=PASSWORD, usage_location=value)
    assert result["failed"] is True and hint in result["msg"]
    assert graph.writes() == []


def test_bad_upn_is_refused(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, user_principal_name="no-domain")
    assert result["failed"] is True and "name@domain" in result["msg"]
    assert graph.calls == []


def test_bad_mail_nickname_is_refused(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeGraph(), mail_nickname="has space")
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

def _graph_client(script, sleeps):
    from ansible_collections.d365.identity.plugins.module_utils._clients.graph import GraphClient
    from ansible_collections.d365.identity.tests.unit.fakes import FakeSession, FakeTokens
    session = FakeSession(script)
    return GraphClient("https://graph.example", "https://graph.example/.default", FakeTokens(), session,
                       sleep=sleeps.append), session


def test_find_user_eventually_waits_out_404(sleeps):
    from ansible_collections.d365.identity.tests.unit.fakes import FakeResponse
    not_found = FakeResponse(404, {"error": {"code": "Request_ResourceNotFound", "message": "gone"}})
    client, session = _graph_client([not_found, not_found, FakeResponse(200, {"id": "1"})], sleeps)
    assert client.find_user_eventually(UPN, ("id",)) == {"id": "1"}
    assert len(session.calls) == 3 and sleeps == [0.5, 1.0]
    assert session.calls[0]["params"] == {"$select": "id"}


def test_find_user_eventually_gives_up_after_window(sleeps):
    from ansible_collections.d365.identity.tests.unit.fakes import FakeResponse
    not_found = FakeResponse(404, {"error": {"code": "Request_ResourceNotFound", "message": "gone"}})
    client, session = _graph_client([not_found] * 10, sleeps)
    assert client.find_user_eventually(UPN, window=3.0) is None
    assert sum(sleeps) == 3.0 and len(session.calls) == len(sleeps) + 1


# -- ownership ----------------------------------------------------------------------

def test_create_marks_the_user_in_the_create_request(monkeypatch, capsys):
    graph = FakeGraph()
    run(monkeypatch, capsys, graph, owner_attribute=7, **create_args())
    (post,) = graph.writes()
    assert post[1]["onPremisesExtensionAttributes"] == {"extensionAttribute7": "d365.identity"}


def test_unowned_user_that_needs_a_change_fails_before_any_write(monkeypatch, capsys):
    graph = FakeGraph(users=[PERSON])
    result = run(monkeypatch, capsys, graph, display_name="Integration", account_enabled=True)
    assert result["failed"] is True and graph.writes() == []
    assert UPN in result["msg"] and "non_interactive_user_adopt: true" in result["msg"] and "adopt: true" in result["msg"]


def test_unowned_user_that_needs_nothing_is_ok_without_writes(monkeypatch, capsys):
    graph = FakeGraph(users=[PERSON])
    result = run(monkeypatch, capsys, graph, display_name="Svc", account_enabled=True)
    assert result["changed"] is False and graph.writes() == []


def test_unowned_user_in_check_mode_fails_too(monkeypatch, capsys):
    graph = FakeGraph(users=[PERSON])
    result = run(monkeypatch, capsys, graph, check=True, display_name="Other")
    assert result["failed"] is True and graph.writes() == []


def test_adopt_marks_the_user_in_the_same_patch(monkeypatch, capsys):
    graph = FakeGraph(users=[PERSON])
    result = run(monkeypatch, capsys, graph, display_name="Integration", adopt=True)
    assert result["changed"] is True and result["adopted"] is True
    assert graph.writes() == [("PATCH", PERSON["id"], dict({"displayName": "Integration"}, **MARK))]


def test_adopt_never_overwrites_another_value(monkeypatch, capsys):
    taken = dict(PERSON, onPremisesExtensionAttributes={"extensionAttribute15": "cost-centre-42"})
    graph = FakeGraph(users=[taken])
    result = run(monkeypatch, capsys, graph, display_name="Integration", adopt=True)
    assert result["failed"] is True and graph.writes() == []
    assert "cost-centre-42" in result["msg"] and "owner_attribute" in result["msg"]


def test_adopt_refuses_a_user_synced_from_on_premises(monkeypatch, capsys):
    graph = FakeGraph(users=[dict(PERSON, onPremisesSyncEnabled=True)])
    result = run(monkeypatch, capsys, graph, display_name="Integration", adopt=True)
    assert result["failed"] is True and graph.writes() == [] and "on-premises" in result["msg"]


def test_absent_refuses_a_user_the_collection_does_not_own(monkeypatch, capsys):
    graph = FakeGraph(users=[PERSON])
    result = run(monkeypatch, capsys, graph, state="absent")
    assert result["failed"] is True and graph.writes() == [] and "delete" in result["msg"]


def test_create_that_meets_a_person_never_changes_her(monkeypatch, capsys):
    # Our first read missed her (404 window); the POST answers duplicate UPN: she is not ours.
    graph = FakeGraph(users=[PERSON], hidden_reads=1)
    result = run(monkeypatch, capsys, graph, display_name="Integration", password=PASSWORD)
    assert result["failed"] is True and [c[0] for c in graph.writes()] == ["POST"]

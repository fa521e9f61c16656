# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, NotFoundError
from ansible_collections.d365.identity.plugins.module_utils._clients.graph import GraphClient
from ansible_collections.d365.identity.plugins.modules import entra_group_member
from ansible_collections.d365.identity.tests.unit.fakes import FakeResponse, FakeSession

ARGS = {"tenant_id": "t", "client_id": "c", "client_secret": "client-secret-for-unit-tests"}
GROUP = {"id": "579ecf60-76b9-4e36-a90a-2b89beb3055b", "displayName": "Dynamics Prod Users"}
MEGAN = {"id": "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f", "userPrincipalName": "megan@contoso.onmicrosoft.com"}
ALEX = {"id": "b7beb2d6-146a-4cd8-903f-b64910f61a7d", "userPrincipalName": "alex@contoso.onmicrosoft.com"}
DIEGO = {"id": "f0edb845-0916-4152-9032-99c4f1db696c", "userPrincipalName": "diego@contoso.onmicrosoft.com"}


class FakeGraph:
    """The GraphClient methods the module uses, over an in-memory directory."""

    def __init__(self, groups=(GROUP,), members=(MEGAN, ALEX), users=(MEGAN, ALEX, DIEGO)):
        self.groups = [dict(g) for g in groups]
        self.members = [dict(m) for m in members]
        self.users = {u["userPrincipalName"].lower(): dict(u) for u in users}
        self.calls = []

    def install(self, monkeypatch):
        for name in ("get_group", "find_groups_by_name", "group_members", "find_user", "find_user_eventually",
                     "add_group_member", "remove_group_member"):
            fake = getattr(self, name)
            monkeypatch.setattr(GraphClient, name, lambda client, *args, fake=fake, **kwargs: fake(*args, **kwargs))

    def writes(self):
        return [c for c in self.calls if c[0] in ("POST", "DELETE")]

    def get_group(self, group_id, select=None):
        self.calls.append(("get_group", group_id))
        found = next((g for g in self.groups if g["id"] == group_id.lower()), None)
        if found is None:
            raise NotFoundError("Graph GET /v1.0/groups/x failed: HTTP 404 Request_ResourceNotFound", status=404)
        return dict(found)

    def find_groups_by_name(self, name, select=None):
        self.calls.append(("find_groups_by_name", name))
        return [dict(g) for g in self.groups if g["displayName"].lower() == name.lower()]

    def group_members(self, group_id, select=None):
        self.calls.append(("group_members", group_id))
        return [dict(m, **{"@odata.type": "#microsoft.graph.user"}) for m in self.members]

    def find_user(self, key, select=None):
        self.calls.append(("find_user", key))
        return self.users.get(key.lower())

    def find_user_eventually(self, key, select=None, window=10.0):
        self.calls.append(("find_user_eventually", key))
        return self.users.get(key.lower())

    def add_group_member(self, group_id, member_id):
        self.calls.append(("POST", group_id, member_id))
        self.members.append(next(u for u in self.users.values() if u["id"] == member_id))

    def remove_group_member(self, group_id, member_id):
        self.calls.append(("DELETE", group_id, member_id))
        self.members = [m for m in self.members if m["id"] != member_id]


def run(monkeypatch, capsys, graph, args, check=False, diff=False):
    graph.install(monkeypatch)
    extra = {"_ansible_check_mode": check, "_ansible_diff": diff}
    with patch_module_args(dict(ARGS, **dict(args, **extra))), pytest.raises(SystemExit):
        entra_group_member.main()
    return json.loads(capsys.readouterr().out)


def upns(members):
    return sorted(m["userPrincipalName"] for m in members)


def test_add_needed(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, {"group": "dynamics prod users", "members": ["DIEGO@contoso.onmicrosoft.com"]},
                 diff=True)
    assert result["changed"] is True
    assert result["group"] == GROUP
    assert graph.writes() == [("POST", GROUP["id"], DIEGO["id"])]
    assert ("find_user_eventually", "DIEGO@contoso.onmicrosoft.com") in graph.calls
    assert result["added"] == [DIEGO] and result["removed"] == []
    assert upns(result["members"]) == upns([MEGAN, ALEX, DIEGO])
    assert result["diff"]["before"]["members"] == upns([MEGAN, ALEX])
    assert result["diff"]["after"]["members"] == upns([MEGAN, ALEX, DIEGO])
    assert [c[0] for c in graph.calls].count("group_members") == 1


def test_already_member_by_upn_or_id_writes_nothing(monkeypatch, capsys):
    graph = FakeGraph()
    args = {"group": GROUP["id"], "members": ["Megan@Contoso.onmicrosoft.com", ALEX["id"].upper()]}
    result = run(monkeypatch, capsys, graph, args)
    assert result["changed"] is False
    assert graph.writes() == []
    assert result["added"] == [] and result["removed"] == []
    assert ("get_group", GROUP["id"]) in graph.calls
    # Members are matched from the one member read: no user look-up at all.
    assert not [c for c in graph.calls if c[0].startswith("find_user")]


def test_remove(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, {"group": "Dynamics Prod Users", "state": "absent",
                                              "members": ["alex@contoso.onmicrosoft.com", "diego@contoso.onmicrosoft.com"]})
    assert result["changed"] is True
    assert graph.writes() == [("DELETE", GROUP["id"], ALEX["id"])]
    assert result["removed"] == [ALEX]
    assert upns(result["members"]) == [MEGAN["userPrincipalName"]]


def test_remove_non_member_is_noop(monkeypatch, capsys):
    graph = FakeGraph(members=(MEGAN,))
    result = run(monkeypatch, capsys, graph, {"group": "Dynamics Prod Users", "state": "absent",
                                              "members": ["alex@contoso.onmicrosoft.com", DIEGO["id"]]})
    assert result["changed"] is False
    assert graph.writes() == []


def test_ambiguous_name_lists_ids(monkeypatch, capsys):
    other = {"id": "0a3f7a1c-0000-4000-8000-000000000001", "displayName": "Dynamics Prod Users"}
    graph = FakeGraph(groups=(GROUP, other))
    result = run(monkeypatch, capsys, graph, {"group": "Dynamics Prod Users", "members": [DIEGO["userPrincipalName"]]})
    assert result["failed"] is True
    assert "2 groups are named 'Dynamics Prod Users'" in result["msg"]
    assert GROUP["id"] in result["msg"] and other["id"] in result["msg"] and "object id" in result["msg"]
    assert graph.writes() == []


def test_unknown_group_by_name_and_id(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeGraph(), {"group": "Nope", "members": [DIEGO["id"]]})
    assert result["failed"] is True
    assert "Group 'Nope' was not found" in result["msg"] and "object id" in result["msg"]
    missing_id = "11111111-2222-3333-4444-555555555555"
    result = run(monkeypatch, capsys, FakeGraph(), {"group": missing_id, "members": [DIEGO["id"]]})
    assert result["failed"] is True
    assert "Group %s was not found" % missing_id in result["msg"]


def test_unknown_user_fails(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, {"group": "Dynamics Prod Users", "members": ["ghost@contoso.onmicrosoft.com"]})
    assert result["failed"] is True
    assert "ghost@contoso.onmicrosoft.com was not found" in result["msg"] and "entra_user" in result["msg"]
    assert graph.writes() == []


def test_check_mode_missing_user_is_pending_add(monkeypatch, capsys):
    graph = FakeGraph()
    new = "svc-new@contoso.onmicrosoft.com"
    result = run(monkeypatch, capsys, graph, {"group": "Dynamics Prod Users", "members": [new, DIEGO["userPrincipalName"]]},
                 check=True, diff=True)
    assert result["changed"] is True
    assert "failed" not in result
    assert graph.writes() == []
    assert ("find_user", new) in graph.calls  # no waiting for replication in check mode
    assert "does not exist yet" in json.dumps(result.get("warnings", []))  # 2.19+: structured warnings
    assert result["added"] == [DIEGO, {"id": None, "userPrincipalName": new}]
    assert result["diff"]["after"]["members"] == sorted(upns([MEGAN, ALEX, DIEGO]) + [new])


def test_check_mode_add_writes_nothing(monkeypatch, capsys):
    graph = FakeGraph()
    result = run(monkeypatch, capsys, graph, {"group": "Dynamics Prod Users", "members": [DIEGO["id"]]}, check=True)
    assert result["changed"] is True
    assert graph.writes() == []
    assert result["added"] == [{"id": DIEGO["id"], "userPrincipalName": None}]


def test_repeated_add_after_lost_answer_counts_as_done(monkeypatch, capsys):
    graph = FakeGraph()

    def already(group_id, member_id):
        graph.calls.append(("POST", group_id, member_id))
        raise ApiError("Graph POST failed: HTTP 400", status=400, code="Request_BadRequest",
                       service_message="One or more added object references already exist for the following "
                                       "modified properties: 'members'.")
    graph.add_group_member = already
    result = run(monkeypatch, capsys, graph, {"group": "Dynamics Prod Users", "members": [DIEGO["userPrincipalName"]]})
    assert result["changed"] is True and "failed" not in result


def test_client_requests(fake_tokens):
    """The Graph calls themselves: filter quoting, paging, $ref bodies on the client's own host."""
    session = FakeSession([
        FakeResponse(200, {"value": [GROUP]}),
        FakeResponse(200, {"value": [MEGAN], "@odata.nextLink": "https://graph.example/v1.0/groups/g/members?$skiptoken=x"}),
        FakeResponse(200, {"value": [ALEX]}),
        FakeResponse(204),
        FakeResponse(204),
    ])
    client = GraphClient("https://graph.example", "https://graph.microsoft.com/.default", fake_tokens, session)
    assert client.find_groups_by_name("O'Brien team") == [GROUP]
    assert session.calls[0]["params"]["$filter"] == "displayName eq 'O''Brien team'"
    assert session.calls[0]["url"] == "https://graph.example/v1.0/groups"
    assert client.group_members(GROUP["id"]) == [MEGAN, ALEX]
    assert session.calls[1]["url"] == "https://graph.example/v1.0/groups/%s/members" % GROUP["id"]
    assert session.calls[1]["params"] == {"$select": "id,userPrincipalName"}
    client.add_group_member(GROUP["id"], DIEGO["id"])
    assert session.calls[3]["method"] == "POST"
    assert session.calls[3]["url"] == "https://graph.example/v1.0/groups/%s/members/$ref" % GROUP["id"]
    assert json.loads(session.calls[3]["data"]) == {
        "@odata.id": "https://graph.example/v1.0/directoryObjects/%s" % DIEGO["id"]}
    client.remove_group_member(GROUP["id"], DIEGO["id"])
    assert session.calls[4]["method"] == "DELETE"
    assert session.calls[4]["url"] == "https://graph.example/v1.0/groups/%s/members/%s/$ref" % (GROUP["id"], DIEGO["id"])

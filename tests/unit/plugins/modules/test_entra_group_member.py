# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest

from ansible_collections.d365.identity.plugins.module_utils._clients.graph import GraphClient
from ansible_collections.d365.identity.plugins.modules import entra_group_member
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph
from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, over_session

GROUP = {"id": "579ecf60-76b9-4e36-a90a-2b89beb3055b", "displayName": "Dynamics Prod Users"}
MEGAN = {"id": "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f", "userPrincipalName": "megan@contoso.onmicrosoft.com"}
ALEX = {"id": "b7beb2d6-146a-4cd8-903f-b64910f61a7d", "userPrincipalName": "alex@contoso.onmicrosoft.com"}
DIEGO = {"id": "f0edb845-0916-4152-9032-99c4f1db696c", "userPrincipalName": "diego@contoso.onmicrosoft.com"}


@pytest.fixture
def tenant(tenant):
    tenant.module = entra_group_member
    return tenant


def directory(tenant, groups=(GROUP,), members=(MEGAN, ALEX), **kwargs):
    """Megan, Alex and Diego; each group in groups has members as its direct members."""
    tenant.graph = FakeGraph([MEGAN, ALEX, DIEGO], groups=[(g, [m["id"] for m in members]) for g in groups],
                             **kwargs)
    return tenant.graph


def upns(members):
    return sorted(m["userPrincipalName"] for m in members)


def looked_up(graph, method):
    return [call[0] for call in graph.calls_to(method)]


def test_add_needed(tenant):
    graph = directory(tenant)
    result = tenant.run(group="dynamics prod users", members=["DIEGO@contoso.onmicrosoft.com"], diff=True)
    assert result["changed"] is True
    assert result["group"] == GROUP
    assert graph.writes() == [("add_group_member", GROUP["id"], DIEGO["id"])]
    assert looked_up(graph, "find_user_eventually") == ["DIEGO@contoso.onmicrosoft.com"]
    assert result["added"] == [DIEGO] and result["removed"] == []
    assert upns(result["members"]) == upns([MEGAN, ALEX, DIEGO])
    assert result["diff"]["before"]["members"] == upns([MEGAN, ALEX])
    assert result["diff"]["after"]["members"] == upns([MEGAN, ALEX, DIEGO])
    assert graph.names().count("group_members") == 1
    assert graph.members_of(GROUP["id"]) == [MEGAN["id"], ALEX["id"], DIEGO["id"]]


def test_already_member_by_upn_or_id_writes_nothing(tenant):
    graph = directory(tenant)
    result = tenant.run(group=GROUP["id"], members=["Megan@Contoso.onmicrosoft.com", ALEX["id"].upper()])
    assert result["changed"] is False
    assert graph.writes() == []
    assert result["added"] == [] and result["removed"] == []
    assert looked_up(graph, "get_group") == [GROUP["id"]]
    # Members are matched from the one member read: no user look-up at all.
    assert not [name for name in graph.names() if name.startswith("find_user")]


def test_members_on_several_pages_are_all_read(tenant):
    graph = directory(tenant, members=(MEGAN, ALEX, DIEGO), page_size=1)
    result = tenant.run(group=GROUP["id"], members=[DIEGO["userPrincipalName"]])
    assert result["changed"] is False and graph.writes() == []
    assert upns(result["members"]) == upns([MEGAN, ALEX, DIEGO])
    assert len([r for r in graph.sent("GET") if r["path"].endswith("/members")]) == 3  # @odata.nextLink followed


def test_remove(tenant):
    graph = directory(tenant)
    result = tenant.run(group="Dynamics Prod Users", state="absent",
                        members=["alex@contoso.onmicrosoft.com", "diego@contoso.onmicrosoft.com"])
    assert result["changed"] is True
    assert graph.writes() == [("remove_group_member", GROUP["id"], ALEX["id"])]
    assert result["removed"] == [ALEX]
    assert upns(result["members"]) == [MEGAN["userPrincipalName"]]
    assert graph.members_of(GROUP["id"]) == [MEGAN["id"]]


def test_remove_non_member_is_noop(tenant):
    graph = directory(tenant, members=(MEGAN,))
    result = tenant.run(group="Dynamics Prod Users", state="absent",
                        members=["alex@contoso.onmicrosoft.com", DIEGO["id"]])
    assert result["changed"] is False
    assert graph.writes() == []


def test_ambiguous_name_lists_ids(tenant):
    other = {"id": "0a3f7a1c-0000-4000-8000-000000000001", "displayName": "Dynamics Prod Users"}
    graph = directory(tenant, groups=(GROUP, other))
    result = tenant.run(group="Dynamics Prod Users", members=[DIEGO["userPrincipalName"]])
    assert result["failed"] is True
    assert "2 groups are named 'Dynamics Prod Users'" in result["msg"]
    assert GROUP["id"] in result["msg"] and other["id"] in result["msg"] and "object id" in result["msg"]
    assert graph.writes() == []


def test_unknown_group_by_name_and_id(tenant):
    directory(tenant)
    result = tenant.run(group="Nope", members=[DIEGO["id"]])
    assert result["failed"] is True
    assert "Group 'Nope' was not found" in result["msg"] and "object id" in result["msg"]
    missing_id = "11111111-2222-3333-4444-555555555555"
    result = tenant.run(group=missing_id, members=[DIEGO["id"]])
    assert result["failed"] is True
    assert "Group %s was not found" % missing_id in result["msg"]


def test_unknown_user_fails(tenant):
    graph = directory(tenant)
    result = tenant.run(group="Dynamics Prod Users", members=["ghost@contoso.onmicrosoft.com"])
    assert result["failed"] is True
    assert "ghost@contoso.onmicrosoft.com was not found" in result["msg"] and "entra_user" in result["msg"]
    assert graph.writes() == []


def test_check_mode_missing_user_is_pending_add(tenant):
    graph = directory(tenant)
    new = "svc-new@contoso.onmicrosoft.com"
    result = tenant.run(group="Dynamics Prod Users", members=[new, DIEGO["userPrincipalName"]], check=True, diff=True)
    assert result["changed"] is True
    assert "failed" not in result
    assert graph.writes() == []
    assert new in looked_up(graph, "find_user")  # no waiting for replication in check mode
    assert "find_user_eventually" not in graph.names() and graph.slept == []
    assert "does not exist yet" in json.dumps(result.get("warnings", []))  # 2.19+: structured warnings
    assert result["added"] == [DIEGO, {"id": None, "userPrincipalName": new}]
    assert result["diff"]["after"]["members"] == sorted(upns([MEGAN, ALEX, DIEGO]) + [new])


def test_check_mode_add_writes_nothing(tenant):
    graph = directory(tenant)
    result = tenant.run(group="Dynamics Prod Users", members=[DIEGO["id"]], check=True)
    assert result["changed"] is True
    assert graph.writes() == [] and graph.sent("POST") == []
    assert result["added"] == [{"id": DIEGO["id"], "userPrincipalName": None}]


def test_repeated_add_after_lost_answer_counts_as_done(tenant):
    # The POST lands but its answer is lost; the client sends it again and Graph answers "already exist".
    graph = directory(tenant)
    graph.drop_connection("POST", "/members/$ref", applied=True)
    result = tenant.run(group="Dynamics Prod Users", members=[DIEGO["userPrincipalName"]])
    assert result["changed"] is True and "failed" not in result
    assert len(graph.sent("POST")) == 2 and graph.members_of(GROUP["id"]).count(DIEGO["id"]) == 1


def test_client_requests(fake_tokens):
    """The Graph calls themselves: filter quoting, paging, $ref bodies on the client's own host."""
    script = [
        FakeResponse(200, {"value": [GROUP]}),
        FakeResponse(200, {"value": [MEGAN], "@odata.nextLink": "https://graph.example/v1.0/groups/g/members?$skiptoken=x"}),
        FakeResponse(200, {"value": [ALEX]}),
        FakeResponse(204),
        FakeResponse(204),
    ]
    client, session = over_session(GraphClient, script, "https://graph.example", "https://graph.microsoft.com/.default",
                                   tokens=fake_tokens)
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


# -- known_group: the read phase read the group and found the users to add not members ------

def test_known_group_adds_without_reading_group_or_members(tenant):
    graph = directory(tenant)
    result = tenant.run(group=GROUP["id"], members={"add": [DIEGO["id"]]}, known_group=dict(GROUP))
    assert result["changed"] is True and result["group"] == GROUP
    assert graph.names() == ["add_group_member"]  # one request: the POST $ref
    assert [r["method"] for r in graph.sent()] == ["POST"]
    assert graph.members_of(GROUP["id"]) == [MEGAN["id"], ALEX["id"], DIEGO["id"]]
    assert result["added"] == [{"id": DIEGO["id"], "userPrincipalName": None}]


def test_known_group_stale_member_counts_as_added(tenant):
    # Alex became a member after the read phase read the group: Graph answers "already exist".
    graph = directory(tenant)
    result = tenant.run(group=GROUP["id"], members={"add": [ALEX["id"]]}, known_group=dict(GROUP))
    assert "failed" not in result and result["changed"] is True
    assert graph.members_of(GROUP["id"]) == [MEGAN["id"], ALEX["id"]]


def test_known_group_in_check_mode_sends_nothing(tenant):
    graph = directory(tenant)
    result = tenant.run(group=GROUP["id"], members={"add": [DIEGO["id"]]}, known_group=dict(GROUP), check=True)
    assert result["changed"] is True and graph.sent() == []


@pytest.mark.parametrize("known", [
    {"id": "0a3f7a1c-0000-4000-8000-000000000001", "displayName": "Other"},  # another group's
    {"id": GROUP["id"]},  # too little of it
    {"id": "not-a-guid", "displayName": GROUP["displayName"]},
])
def test_known_group_that_is_not_this_group_is_ignored(tenant, known):
    graph = directory(tenant)
    result = tenant.run(group=GROUP["id"], members={"add": [ALEX["id"]]}, known_group=known)
    assert result["changed"] is False and graph.writes() == []  # read: Alex is a member
    assert "group_members" in graph.names()


def test_known_group_by_name_matches_its_display_name(tenant):
    graph = directory(tenant)
    result = tenant.run(group="dynamics prod users", members={"add": [DIEGO["id"]]}, known_group=dict(GROUP))
    assert result["changed"] is True and graph.names() == ["add_group_member"]


@pytest.mark.parametrize("members", [{"remove": [ALEX["id"]]}, {"set": [ALEX["id"]]}])
def test_known_group_only_goes_with_add(tenant, members):
    graph = directory(tenant)
    result = tenant.run(group=GROUP["id"], members=members, known_group=dict(GROUP))
    assert result["failed"] is True and "known_group only goes with members.add" in result["msg"]
    assert graph.writes() == []

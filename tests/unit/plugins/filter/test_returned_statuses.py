# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.d365.identity.plugins.filter.returned_statuses import returned_statuses

A, B = "https://a.crm4.dynamics.com", "https://b.crm4.dynamics.com"
USER_ID = "11111111-2222-3333-4444-555555555555"
BU = "33333333-3333-3333-3333-333333333333"
SYSADMIN_T = "627090ff-40a3-4053-8790-584edc5be201"
ROLES = ["System Administrator"]


def returned_row(**changes):
    """The systemuser as dataverse_systemuser returned it for its access-mode write (RV systemuser)."""
    row = {"systemuserid": "aaaaaaaa-0000-0000-0000-000000000001", "azureactivedirectoryobjectid": USER_ID,
           "domainname": "svc@contoso.com", "applicationid": None, "accessmode": 4, "access_mode": "non_interactive",
           "isdisabled": False, "islicensed": True, "businessunitid": BU,
           "roles": [{"roleid": "r-1", "name": "System Administrator", "roletemplateid": SYSADMIN_T, "businessunitid": BU}]}
    row.update(changes)
    return row


def test_an_environment_with_a_returned_finished_row_needs_no_read():
    assert returned_statuses({A: returned_row()}, [A + "/", B], ROLES, USER_ID) == {"pending": [], "unread": [B]}


def test_a_returned_row_that_is_not_finished_is_pending():
    rows = {A: returned_row(isdisabled=True), B: returned_row(accessmode=0)}
    assert returned_statuses(rows, [A, B], ROLES, USER_ID)["pending"] == [A, B]
    assert returned_statuses({A: returned_row(roles=[])}, [A], ROLES, USER_ID) == {"pending": [A], "unread": []}
    by_template = returned_statuses({A: returned_row()}, [A], [SYSADMIN_T], USER_ID)
    assert by_template == {"pending": [], "unread": []}


def test_a_row_of_another_user_or_without_its_ids_is_read_again():
    stranger = returned_row(azureactivedirectoryobjectid="99999999-0000-0000-0000-000000000009",
                            systemuserid="99999999-0000-0000-0000-000000000008")
    assert returned_statuses({A: stranger}, [A], ROLES, USER_ID) == {"pending": [], "unread": [A]}
    assert returned_statuses({A: returned_row(businessunitid=None)}, [A], ROLES, USER_ID)["unread"] == [A]
    assert returned_statuses({A: {}}, [A], ROLES, USER_ID)["unread"] == [A]
    assert returned_statuses({A: returned_row(isdisabled=None)}, [A], ROLES, USER_ID)["unread"] == [A]
    assert returned_statuses({A: returned_row(accessmode=None)}, [A], ROLES, USER_ID)["unread"] == [A]
    assert returned_statuses(None, [A], ROLES, USER_ID)["unread"] == [A]

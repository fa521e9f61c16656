# SPDX-License-Identifier: GPL-3.0-or-later
"""DataverseClient's application-user requests, at the HTTP level."""
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._clients.dataverse import DataverseClient
from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import dataverse_error_body
from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, over_session

ENV = "https://contoso.crm4.dynamics.com"
APP = "2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b"
BU = "11111111-1111-1111-1111-111111111111"
NEW = "7a2d5c55-4e0b-4b0e-9b8e-0c6f3c1d2e11"


def client(*answers):
    return over_session(DataverseClient, answers, ENV, ENV + "/.default", sleep=lambda seconds: None)


def test_create_takes_the_id_from_odata_entityid_of_a_204():
    dv, session = client(FakeResponse(204, headers={
        "OData-EntityId": "%s/api/data/v9.2/systemusers(%s)" % (ENV, NEW.upper())}))
    assert dv.create_application_user(APP.upper(), BU) == NEW
    [call] = session.calls
    assert call["method"] == "POST" and call["url"] == ENV + "/api/data/v9.2/systemusers"
    assert call["data"] == ('{"applicationid": "%s", "accessmode": 4, "isdisabled": false, '
                            '"businessunitid@odata.bind": "/businessunits(%s)"}' % (APP, BU))


def test_create_takes_the_id_from_the_body_of_a_201():
    dv, dummy = client(FakeResponse(201, {"systemuserid": NEW, "applicationid": APP}))
    assert dv.create_application_user(APP, BU) == NEW


def test_create_without_an_id_in_the_answer_is_an_error():
    dv, dummy = client(FakeResponse(204))
    with pytest.raises(ApiError, match="answered HTTP 204 without the new row's id"):
        dv.create_application_user(APP, BU)


def test_delete_sends_the_usersettings_refusal_once_more():
    refused = FakeResponse(400, dataverse_error_body("0x80048610", "The user settings could not be deleted."))
    dv, session = client(refused, FakeResponse(204))
    assert dv.delete_systemuser(NEW) is True
    assert [c["method"] for c in session.calls] == ["DELETE", "DELETE"]
    assert session.calls[0]["url"] == "%s/api/data/v9.2/systemusers(%s)" % (ENV, NEW)


def test_delete_gives_up_after_the_second_refusal_and_does_not_retry_other_codes():
    refused = FakeResponse(400, dataverse_error_body("0x80048610", "The user settings could not be deleted."))
    dv, session = client(refused, refused)
    with pytest.raises(ApiError) as twice:
        dv.delete_systemuser(NEW)
    assert twice.value.code == "0x80048610" and len(session.calls) == 2
    dv, session = client(FakeResponse(400, dataverse_error_body("0x80040227", "Only a disabled user...")))
    with pytest.raises(ApiError):
        dv.delete_systemuser(NEW)
    assert len(session.calls) == 1
    dv, session = client(refused)
    with pytest.raises(ApiError):
        dv.delete_systemuser(NEW, retry_codes=())
    assert len(session.calls) == 1


def test_delete_of_a_row_that_is_gone_is_false_and_purge_lists_what_was_there():
    gone = FakeResponse(404, dataverse_error_body("0x80040217", "systemuser With Id = x Does Not Exist"))
    dv, session = client(gone, FakeResponse(204))
    assert dv.purge_systemusers([NEW, BU]) == [BU]
    assert len(session.calls) == 2


def test_application_user_rows_filter_on_the_validated_client_id():
    dv, session = client(FakeResponse(200, {"value": []}))
    assert dv.application_user_rows(APP.upper(), ("systemuserid", "deletedstate")) == []
    assert session.calls[0]["params"] == {"$filter": "applicationid eq %s" % APP,
                                          "$select": "systemuserid,deletedstate"}

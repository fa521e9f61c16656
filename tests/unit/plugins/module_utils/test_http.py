# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils import _errors
from ansible_collections.d365.identity.plugins.module_utils._transport.http import ApiClient, new_session, parse_odata_error
from ansible_collections.d365.identity.plugins.module_utils._transport.session import TransportFailure
from ansible_collections.d365.identity.plugins.module_utils._version import USER_AGENT

from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, FakeSession

GRAPH_429 = {"error": {"code": "TooManyRequests", "message": "Please retry again later.",
                       "innerError": {"code": "429", "request-id": "94fb3b52", "status": "429"}}}


def client(script, tokens, slept, **kwargs):
    session = FakeSession(script)
    api = ApiClient("https://api.example/prefix", "https://api.example/.default", tokens, session,
                    sleep=slept.append, **kwargs)
    return api, session


def test_base_url_keeps_path_prefix(fake_tokens, sleeps):
    api, session = client([FakeResponse(200, {"ok": 1})], fake_tokens, sleeps)
    assert api.get("v1.0/users") == {"ok": 1}
    assert session.calls[0]["url"] == "https://api.example/prefix/v1.0/users"
    assert session.calls[0]["headers"]["Authorization"] == "Bearer token-1"
    assert session.calls[0]["timeout"] == 30


def test_429_honours_fractional_retry_after(fake_tokens, sleeps):
    api, session = client([FakeResponse(429, GRAPH_429, {"Retry-After": "2.128"}), FakeResponse(200, {})],
                          fake_tokens, sleeps)
    api.request("POST", "users", json_body={})
    assert sleeps == [2.128]
    assert len(session.calls) == 2


@pytest.mark.parametrize("status", [503, 504])
def test_unavailable_retried_for_writes(status, fake_tokens, sleeps):
    api, session = client([FakeResponse(status), FakeResponse(204)], fake_tokens, sleeps)
    assert api.request("PATCH", "x", json_body={"a": 1}).status == 204
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0  # backoff with jitter, no Retry-After


@pytest.mark.parametrize("status", [500, 502])
def test_server_error_retried_for_get_only(status, fake_tokens, sleeps):
    api, session = client([FakeResponse(status), FakeResponse(200, {})], fake_tokens, sleeps)
    api.get("x")
    assert len(session.calls) == 2
    api, session = client([FakeResponse(status, {"error": {"code": "x", "message": "boom"}})], fake_tokens, sleeps)
    with pytest.raises(_errors.ApiError):
        api.request("POST", "x", json_body={})
    assert len(session.calls) == 1


def test_dropped_connection_retried_for_get(fake_tokens, sleeps):
    api, session = client([TransportFailure("ConnectionResetError"), FakeResponse(200, {"v": 1})], fake_tokens, sleeps)
    assert api.get("x") == {"v": 1}


def test_dropped_connection_on_post_is_not_repeated(fake_tokens, sleeps):
    api, session = client([TransportFailure("ConnectionResetError"), FakeResponse(201, {})], fake_tokens, sleeps)
    with pytest.raises(_errors.TransportError) as caught:
        api.request("POST", "users", json_body={})
    assert "may or may not have been applied" in caught.value.message
    assert len(session.calls) == 1


def test_retries_bounded_by_max_retries(fake_tokens, sleeps):
    api, session = client([FakeResponse(429, GRAPH_429, {"Retry-After": "1"})] * 4, fake_tokens, sleeps, max_retries=3)
    with pytest.raises(_errors.ApiError) as caught:
        api.get("x")
    assert len(session.calls) == 4 and sleeps == [1, 1, 1]
    assert "max_retries" in caught.value.message and caught.value.status == 429


def test_retries_bounded_by_total_wait(fake_tokens, sleeps):
    api, session = client([FakeResponse(429, GRAPH_429, {"Retry-After": "200"})] * 3, fake_tokens, sleeps)
    with pytest.raises(_errors.ApiError):
        api.get("x")
    assert sleeps == [200]  # a second 200 s wait would pass the 300 s cap


def test_a_retry_after_the_401_keeps_the_fresh_token(fake_tokens, sleeps):
    api, dummy = client([FakeResponse(401), FakeResponse(429, headers={"Retry-After": "1"}), FakeResponse(200, {})],
                        fake_tokens, sleeps)
    api.get("x")
    assert [forced for dummy_scope, forced in fake_tokens.calls] == [False, True, False]


def test_one_token_refresh_on_401(fake_tokens, sleeps):
    api, session = client([FakeResponse(401), FakeResponse(200, {})], fake_tokens, sleeps)
    api.get("x")
    assert fake_tokens.calls == [("https://api.example/.default", False), ("https://api.example/.default", True)]
    assert session.calls[1]["headers"]["Authorization"] == "Bearer token-2"


def test_second_401_fails_with_hint(fake_tokens, sleeps):
    api, session = client([FakeResponse(401), FakeResponse(401)], fake_tokens, sleeps)
    with pytest.raises(_errors.ApiError) as caught:
        api.get("x")
    assert "tenant_id" in caught.value.message and len(session.calls) == 2


def test_paging_follows_next_link(fake_tokens, sleeps):
    script = [FakeResponse(200, {"value": [1, 2], "@odata.nextLink": "https://api.example/prefix/x?$skiptoken=a"}),
              FakeResponse(200, {"value": [3]})]
    api, session = client(script, fake_tokens, sleeps)
    assert api.get_all("x", params={"$top": 2}) == [1, 2, 3]
    assert session.calls[1]["url"] == "https://api.example/prefix/x?$skiptoken=a"
    assert session.calls[1]["params"] is None


def test_graph_error_body_mapped(fake_tokens, sleeps):
    body = {"error": {"code": "Request_BadRequest", "message": "Invalid value.",
                      "innerError": {"request-id": "rid-1", "date": "d"}}}
    api, dummy = client([FakeResponse(400, body)], fake_tokens, sleeps)
    with pytest.raises(_errors.ApiError) as caught:
        api.request("POST", "users", json_body={})
    error = caught.value
    assert (error.status, error.code, error.request_id) == (400, "Request_BadRequest", "rid-1")
    assert error.service_message == "Invalid value."
    assert "rid-1" in error.message and "HTTP 400" in error.message


def test_dataverse_error_body_and_header_request_id():
    body = {"error": {"code": "0x80040265", "message": "Example"}}
    code, message, request_id, dummy = parse_odata_error(body, {"REQ_ID": "dv-1"})
    assert (code, message, request_id) == ("0x80040265", "Example", "dv-1")


def test_lowercase_innererror_and_request_id_spelling():
    assert parse_odata_error({"error": {"code": "c", "message": "m", "innererror": {"requestId": "r"}}}, {})[2] == "r"


def test_not_found_and_conflict_mapping(fake_tokens, sleeps):
    conflict = {"error": {"code": "Request_BadRequest", "message": "Another object with the same value for property "
                          "userPrincipalName already exists.",
                          "details": [{"code": "ObjectConflict", "target": "userPrincipalName"}]}}
    script = [FakeResponse(404, {"error": {"code": "", "message": "missing"}}), FakeResponse(400, conflict)]
    api, dummy = client(script, fake_tokens, sleeps)
    with pytest.raises(_errors.NotFoundError):
        api.get("x")
    with pytest.raises(_errors.ConflictError):
        api.request("POST", "users", json_body={})


def test_403_names_the_permission(fake_tokens, sleeps):
    body = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}}
    api, dummy = client([FakeResponse(403, body)], fake_tokens, sleeps)
    with pytest.raises(_errors.PermissionDeniedError) as caught:
        api.request("POST", "users", json_body={}, permission="User.ReadWrite.All")
    assert "User.ReadWrite.All" in caught.value.message


def test_no_token_in_error_text(fake_tokens, sleeps):
    api, dummy = client([FakeResponse(400, {"error": {"code": "x", "message": "bad"}})], fake_tokens, sleeps)
    with pytest.raises(_errors.ApiError) as caught:
        api.request("POST", "users?secretquery=1", json_body={"passwordProfile": {"password": "Pa55w0rd!"}})
    text = str(caught.value) + repr(caught.value.to_result())
    assert "token-" not in text and "Pa55w0rd!" not in text and "secretquery" not in text


def test_session_user_agent_and_default_timeout():
    assert new_session().headers["User-Agent"] == USER_AGENT == "d365.identity/0.3.0"
    assert new_session().timeout == 30 and new_session(7).timeout == 7


def test_a_redirect_is_an_error_and_not_followed(fake_tokens, sleeps):
    moved = FakeResponse(302, None, headers={"Location": "https://elsewhere.example/x?sig=abc"})
    api, session = client([moved], fake_tokens, sleeps)
    with pytest.raises(_errors.ApiError, match="HTTP 302.*redirect .to elsewhere.example. was not followed") as caught:
        api.get("x")
    assert len(session.calls) == 1 and "sig=abc" not in str(caught.value)


def test_next_link_to_another_host_is_refused(fake_tokens, sleeps):
    script = [FakeResponse(200, {"value": [1], "@odata.nextLink": "https://evil.example/x?$skiptoken=a"})]
    api, session = client(script, fake_tokens, sleeps)
    with pytest.raises(_errors.ApiError, match="another host"):
        api.get_all("x")
    assert len(session.calls) == 1  # the token never went to evil.example


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE", "PUT"])
def test_check_mode_client_refuses_every_write_without_sending(method, fake_tokens, sleeps):
    api, session = client([FakeResponse(204)], fake_tokens, sleeps, check_mode=True)
    with pytest.raises(_errors.CheckModeWriteError, match="check mode"):
        api.request(method, "v1.0/users/x")
    assert session.calls == [] and fake_tokens.calls == []


def test_check_mode_client_still_reads(fake_tokens, sleeps):
    api, session = client([FakeResponse(200, {"ok": 1})], fake_tokens, sleeps, check_mode=True)
    assert api.get("v1.0/users") == {"ok": 1} and len(session.calls) == 1

# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._errors import (
    ApiError, ConfigError, ConflictError, NotFoundError, TransportError)
from ansible_collections.d365.identity.plugins.module_utils._transport.writes import NOT_DONE, write_and_verify


class Script:
    """send() raises the scripted errors in turn, then returns 'sent'; counts every call."""

    def __init__(self, *errors):
        self.errors, self.sends, self.checks = list(errors), 0, 0

    def send(self):
        self.sends += 1
        if self.errors:
            raise self.errors.pop(0)
        return "sent"

    def check_with(self, *verdicts):
        verdicts = list(verdicts)

        def check():
            self.checks += 1
            return verdicts.pop(0)
        return check


@pytest.mark.parametrize("error", [ApiError("bad", status=400), ConflictError("dup", status=400),
                                   NotFoundError("gone", status=404), ConfigError("typo"),
                                   ApiError("throttled for good", status=429)])
def test_a_definitive_error_is_raised_at_once_without_a_re_read(error):
    script = Script(error)
    with pytest.raises(type(error)):
        write_and_verify(script.send, script.check_with())
    assert (script.sends, script.checks) == (1, 0)


@pytest.mark.parametrize("error", [TransportError("no answer"), ApiError("boom", status=500),
                                   ApiError("bad gateway", status=502), ApiError("busy", status=503),
                                   ApiError("timeout", status=504)])
def test_an_unknown_outcome_is_re_read_and_a_done_write_is_not_sent_again(error):
    script = Script(error)
    assert write_and_verify(script.send, script.check_with("found it")) == "found it"
    assert (script.sends, script.checks) == (1, 1)


def test_not_done_is_sent_again():
    script = Script(TransportError("no answer"))
    assert write_and_verify(script.send, script.check_with(NOT_DONE)) == "sent"
    assert (script.sends, script.checks) == (2, 1)


def test_bounded_attempts_then_the_last_error():
    last = ApiError("still busy", status=503)
    script = Script(TransportError("no answer"), ApiError("busy", status=503), last)
    with pytest.raises(ApiError) as caught:
        write_and_verify(script.send, script.check_with(NOT_DONE, NOT_DONE, NOT_DONE))
    assert caught.value is last and (script.sends, script.checks) == (3, 3)


def test_with_message_keeps_type_and_fields():
    error = ConflictError("dup", status=400, code="Request_BadRequest", service_message="Another object",
                          request_id="r-1", method="POST", url="https://graph/v1.0/users")
    other = error.with_fix("choose another user_principal_name.")
    assert other.__class__ is ConflictError and other is not error and error.message == "dup"
    assert other.message == str(other) == "dup Fix: choose another user_principal_name."
    assert (other.status, other.code, other.service_message, other.request_id, other.method, other.url) == (
        400, "Request_BadRequest", "Another object", "r-1", "POST", "https://graph/v1.0/users")

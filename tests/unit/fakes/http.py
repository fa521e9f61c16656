# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP level: an HttpSession (_transport/session.py) stand-in and its responses, for tests of the transport and
of the real clients' requests (URLs, bodies, headers, paging)."""

from __future__ import annotations

import json

import requests


class FakeResponse:
    def __init__(self, status=200, body=None, headers=None, reason="", raw_text=None):
        self.status_code = status
        self.headers = requests.structures.CaseInsensitiveDict(headers or {})
        self.reason = reason
        if raw_text is not None:
            self.text = raw_text
        else:
            self.text = "" if body is None else json.dumps(body)
        self.content = self.text.encode()

    def json(self):
        return json.loads(self.text)

    def raise_for_status(self):
        if self.status_code >= 400:
            raise requests.HTTPError("%d" % self.status_code, response=self)


class FakeSession:
    """HttpSession stand-in: answers from a script, records every call."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = []
        self.headers = {}

    def request(self, method, url, **kwargs):
        self.calls.append(dict(kwargs, method=method, url=url))
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def over_session(client_cls, script, *args, **kwargs):
    """(real client, its FakeSession): client_cls(*args, token provider, session, **kwargs) with
    FakeTokens, so a test sees the exact requests the real client sends for a scripted exchange.
    args are what comes before the token provider: (base_url, scope), or (environment_url, scope)."""
    from ansible_collections.d365.identity.tests.unit.fakes.identity import FakeTokens

    session = FakeSession(script)
    return client_cls(*args, kwargs.pop("tokens", None) or FakeTokens(), session, **kwargs), session

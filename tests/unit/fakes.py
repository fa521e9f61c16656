# SPDX-License-Identifier: GPL-3.0-or-later
"""Fakes shared by the unit tests: no test here touches the network."""

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
    """requests.Session stand-in: answers from a script, records every call."""

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


class FakeTokens:
    """TokenProvider stand-in counting get_token calls and forced refreshes."""

    def __init__(self):
        self.calls = []

    def get_token(self, scope, force_refresh=False):
        self.calls.append((scope, force_refresh))
        return "token-%d" % len(self.calls)


class FakeIdentityHttp:
    """An http_client for msal: OpenID metadata and a token endpoint, counting token POSTs.

    msal runs for real on top of it, so cache handling and request shapes are msal's own.
    """

    def __init__(self, authority="https://login.example/tenant-1", token_answers=None):
        self.authority = authority
        self.token_answers = list(token_answers or [])
        self.token_posts = []
        self.gets = []
        self.headers = {}

    def get(self, url, params=None, headers=None, **kwargs):
        self.gets.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return FakeResponse(200, {
                "authorization_endpoint": self.authority + "/oauth2/v2.0/authorize",
                "token_endpoint": self.authority + "/oauth2/v2.0/token",
                "issuer": self.authority + "/v2.0",
            })
        return FakeResponse(404, {"error": "not_found"})

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        self.token_posts.append({"url": url, "data": dict(data or {})})
        if not self.token_answers:
            return FakeResponse(200, {"token_type": "Bearer", "expires_in": 3599,
                                      "access_token": "at-%d" % len(self.token_posts)})
        answer = self.token_answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self):
        return None

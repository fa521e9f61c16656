# SPDX-License-Identifier: GPL-3.0-or-later
"""The Microsoft identity platform: token providers and the token endpoint msal talks to."""

from __future__ import annotations

import time

from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
CLIENT_SECRET = "client-secret-for-unit-tests"
AUTH_ARGS = {"tenant_id": TENANT_ID, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
LOGIN_URL = "https://login.microsoftonline.com"


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


class FakeManagedIdentityHttp:
    """The App Service managed identity endpoint msal's ManagedIdentityClient calls (a GET per token)."""

    def __init__(self):
        self.gets = []

    def get(self, url, params=None, headers=None, **kwargs):
        self.gets.append(dict(params or {}))
        return FakeResponse(200, {"access_token": "mi-%d" % len(self.gets), "token_type": "Bearer",
                                  "expires_on": str(int(time.time()) + 3600), "resource": params["resource"]})

    def close(self):
        return None


def login_error_body(error, code, description):
    """The token endpoint's flat error body (examples/oidc-token-client-credentials-2.json)."""
    trace, correlation = "255d1aef-8c98-452f-ac51-23d051240864", "fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7"
    return {"error": error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: 2026-01-09 02:02:12Z"
                                 % (code, description, trace, correlation),
            "error_codes": [code], "timestamp": "2026-01-09 02:02:12Z", "trace_id": trace,
            "correlation_id": correlation}


def token_refused(scope, error, code, description, status=400):
    """The AuthError the real TokenProvider (msal included) raises when Entra refuses a token for scope,
    e.g. token_refused(url + "/.default", "invalid_resource", 500011, "The resource principal named ...")."""
    from ansible_collections.d365.identity.plugins.module_utils._auth.provider import TokenProvider
    from ansible_collections.d365.identity.plugins.module_utils._errors import AuthError

    http = FakeIdentityHttp(authority="%s/%s" % (LOGIN_URL, TENANT_ID),
                            token_answers=[FakeResponse(status, login_error_body(error, code, description))])
    provider = TokenProvider.from_params(dict(AUTH_ARGS, token_cache=False, max_retries=0), LOGIN_URL, http,
                                         instance_discovery=False)
    try:
        provider.get_token(scope)
    except AuthError as refused:
        return refused
    raise AssertionError("the token endpoint's %d was not refused" % status)

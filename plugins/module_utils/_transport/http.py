# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The one HTTP core: bearer auth, retries, paging and OData error mapping.

Graph, Dataverse and the admin API differ only in base URL, scope, default headers and the
permission a 403 means; those live in the thin clients (_clients/graph.py, dataverse.py, admin_api.py).
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlsplit

from .._connection import MAX_RETRIES, TIMEOUT
from .._errors import ApiError, CheckModeWriteError, ConflictError, NotFoundError, PermissionDeniedError, TransportError
from .retry import RetryBudget, parse_retry_after
from .session import HttpSession, TransportFailure
from .urls import join

# https://learn.microsoft.com/graph/throttling and .../power-apps/developer/data-platform/api-limits: throttling and unavailability are retried for any
# method; 500/502 and dropped connections only where repeating cannot duplicate a write.
RETRY_ALWAYS = frozenset((429, 503, 504))
RETRY_IDEMPOTENT = frozenset((500, 502))
MAX_TOTAL_WAIT = 300.0
MAX_PAGES = 1000
REQUEST_ID_HEADERS = ("request-id", "x-ms-request-id", "x-ms-service-request-id", "req_id",
                      "x-ms-correlation-request-id", "client-request-id")
NOT_FOUND_CODES = frozenset(("Request_ResourceNotFound", "ResourceNotFound", "0x80040217"))
CONFLICT_CODES = frozenset(("ObjectConflict", "Directory_ConcurrencyViolation", "0x80040237"))
# A URL or path followed by a query string: $filter values, $skiptoken and the like name users
# and can grant paging access, so they stay out of messages and tracebacks.
_QUERY_IN_TEXT = re.compile(r"((?:[a-z][a-z0-9+.-]*://|/)[^\s?#]*)\?[^\s]*", re.IGNORECASE)


def scrub_queries(text):
    """text with the query string of every URL in it replaced by '?...'."""
    return _QUERY_IN_TEXT.sub(r"\1?...", str(text))


def new_session(timeout=TIMEOUT):
    """The HTTP session of one module run: our User-Agent, REQUESTS_CA_BUNDLE and the proxy variables of
    the execution environment, timeout for the requests that name none (msal's) (session.py)."""
    return HttpSession(timeout=timeout)


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def parse_odata_error(body, headers):
    """(code, message, request_id, detail_codes) from a Graph, Dataverse or admin-API error."""
    code = message = request_id = None
    details = []
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or None
        message = error.get("message")
        inner = error.get("innerError") or error.get("innererror") or {}
        if isinstance(inner, dict):
            request_id = inner.get("request-id") or inner.get("requestId")
        details = [d.get("code") for d in error.get("details") or [] if isinstance(d, dict)]
    elif isinstance(body, dict) and "error_description" in body:
        code, message = body.get("error"), body.get("error_description")
    if not request_id:
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        request_id = next((lowered[h] for h in REQUEST_ID_HEADERS if lowered.get(h)), None)
    return code, message, request_id, details


class ApiClient:
    """Base URL + scope + token provider over one HttpSession (session.py)."""

    service = "API"
    default_headers = {"Accept": "application/json"}

    def __init__(self, base_url, scope, token_provider, session, timeout=TIMEOUT, max_retries=MAX_RETRIES,
                 max_total_wait=MAX_TOTAL_WAIT, sleep=time.sleep, check_mode=False, backoff=None):
        self.base_url = base_url.rstrip("/")
        # A safety net under every module's check-mode branches: in check mode no write leaves the process.
        self.check_mode = check_mode
        self.scope = scope
        self.token_provider = token_provider
        self.session = session
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_total_wait = max_total_wait
        self.sleep = sleep
        self.writes = 0  # write requests sent by this client (modules report them in debug)
        self.backoff = backoff  # SharedBackoff: Retry-After windows of the other processes of this client

    def url(self, path):
        if path.startswith("https://"):
            # Absolute links (@odata.nextLink) must stay on our host: the bearer token goes with them.
            if urlsplit(path).netloc.lower() != urlsplit(self.base_url).netloc.lower():
                raise ApiError("%s returned a link to another host (%s); refusing to send the token there."
                               % (self.service, urlsplit(path).netloc))
            return path
        return join(self.base_url, path)

    def forbidden_hint(self, permission):
        """What to grant when the service answers 403; clients override."""
        return permission

    # -- core -------------------------------------------------------------------------

    def request(self, method, path, params=None, json_body=None, headers=None, permission=None,
                idempotent=None):
        """Send with retries; return Response for 2xx, raise an ApiError subclass otherwise."""
        method = method.upper()
        url = self.url(path)
        if self.check_mode and method not in ("GET", "HEAD"):
            raise CheckModeWriteError("%s %s %s refused: the task runs in check mode, which never writes (a bug in the "
                                      "module: please report it)." % (self.service, method, _path(url)))
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        merged = dict(self.default_headers)
        if json_body is not None:
            merged["Content-Type"] = "application/json"
        merged.update(headers or {})
        data = json.dumps(json_body) if json_body is not None else None
        budget = RetryBudget(self.max_retries, self.max_total_wait, self.sleep)
        refreshed = refresh_now = False
        host = urlsplit(url).netloc
        while True:
            if self.backoff:
                self.backoff.wait(host)  # before the token: the wait must not eat into its lifetime
            token = self.token_provider.get_token(self.scope, force_refresh=refresh_now)
            if self.backoff and self.backoff.wait(host):
                # another process's 429 came while this one waited for its token (forks share the token lock):
                # waited out; the token again, from the cache, so that the wait cannot have aged it
                token = self.token_provider.get_token(self.scope)
            refresh_now = False
            merged["Authorization"] = "Bearer " + token
            if method != "GET":
                self.writes += 1
            try:
                raw = self.session.request(method, url, params=params, data=data, headers=merged,
                                           timeout=self.timeout)
            except TransportFailure as exc:
                if idempotent and budget.wait():
                    continue
                # kind names the cause without the URL; "from None" keeps the chain out of the traceback.
                raise TransportError(
                    "%s %s %s got no answer (%s)%s." % (
                        self.service, method, _path(url), exc.kind,
                        "" if idempotent else "; the write may or may not have been applied"),
                    method=method, url=_without_query(url)) from None
            if raw.status_code == 401 and not refreshed:
                refreshed = refresh_now = True  # one fresh token: the cached one may have been revoked
                continue
            retry = raw.status_code in RETRY_ALWAYS or (idempotent and raw.status_code in RETRY_IDEMPOTENT)
            retry_after = parse_retry_after(raw.headers.get("Retry-After"))
            if self.backoff and raw.status_code == 429:
                self.backoff.note(host, retry_after)
            if retry and budget.wait(retry_after):
                continue
            body = _json(raw)
            if raw.status_code >= 300:  # redirects are not followed: the token would go with them
                raise self._error(method, url, raw, body, permission, budget)
            return Response(raw.status_code, raw.headers, body)

    def get(self, path, params=None, **kwargs):
        return self.request("GET", path, params=params, **kwargs).body

    def get_all(self, path, params=None, **kwargs):
        """Every item of a collection, following @odata.nextLink (absolute, params included)."""
        items = []
        body = self.get(path, params=params, **kwargs)
        for _page in range(MAX_PAGES):
            items.extend(body.get("value", []))
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return items
            body = self.get(next_link, **kwargs)
        raise ApiError("%s paging of %s did not end after %d pages." % (self.service, _path(path), MAX_PAGES))

    # -- errors -----------------------------------------------------------------------

    def _error(self, method, url, raw, body, permission, budget):
        status = raw.status_code
        code, message, request_id, detail_codes = parse_odata_error(body, raw.headers)
        if isinstance(message, str):
            message = scrub_queries(message)  # services sometimes echo the request URL; modules reuse it
        text = "%s %s %s failed: HTTP %d%s: %s" % (
            self.service, method, _path(url), status, " " + code if code else "",
            scrub_queries((message or raw.reason or "no message").strip()))
        if request_id:
            text += " (request-id %s)" % request_id
        kwargs = dict(status=status, code=code, service_message=message, request_id=request_id,
                      method=method, url=_without_query(url))
        if status in RETRY_ALWAYS:
            return ApiError(text + ". Still refused after %d retries (%.0f s waited): retry later or raise "
                            "max_retries." % (budget.attempt, budget.waited), **kwargs)
        if status == 403:
            return PermissionDeniedError(text + ". Fix: " + self.forbidden_hint(permission) + ".", **kwargs)
        if status == 401:
            return ApiError(text + ". The token was refused twice: check that tenant_id, cloud_environment "
                            "and the URL options point at the same cloud and tenant.", **kwargs)
        if status == 404 or code in NOT_FOUND_CODES:
            return NotFoundError(text, **kwargs)
        if status == 409 or code in CONFLICT_CODES or CONFLICT_CODES.intersection(detail_codes):
            return ConflictError(text, **kwargs)
        if status < 400:
            return ApiError(text + ". The redirect (to %s) was not followed; check the URL options." % (
                urlsplit(raw.headers.get("Location") or "").netloc or "no location"), **kwargs)
        return ApiError(text, **kwargs)


def _json(raw):
    if not raw.content:
        return None
    try:
        return raw.json()
    except ValueError:
        return None


def _path(url):
    """Path only: hosts and query strings stay out of messages."""
    return urlsplit(url).path


def _without_query(url):
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()

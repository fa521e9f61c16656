# SPDX-License-Identifier: GPL-3.0-or-later
"""What the service fakes share.

The package (its __init__ stays empty, as ansible-test requires):

- http: FakeResponse, FakeSession (HttpSession stand-in), over_session() (a real client over it)
- identity: FakeTokens, FakeIdentityHttp (msal's token endpoint), token_refused()
- graph: FakeGraph (Microsoft Graph), graph_sku(), graph_group(), licence_state()
- dataverse: FakeDataverse (one environment), systemuser(), role_row(), standard_roles()
- admin_api: FakeAdmin (Power Platform admin API), bap_environment()
- tenant: FakeTenant (all of them wired into D365Module) and run_task(), the one way to run a module

Module tests use the ``tenant`` fixture (tests/unit/conftest.py): the module gets
the real clients from the real factories, pointed at these fakes; see fakes/base.py.

A fake is the service, not the client: a module under test gets the real client (GraphClient,
DataverseClient, AdminApiClient, built by the real D365Module factories), whose session is the
fake's. So URLs, query options, bodies, retries, the check-mode refusal and the mapping of error
answers to exceptions are the real code's; the fake answers with Microsoft's documented payload
shapes (see the examples/ reference) from its in-memory state.

Between the module and that client sits a recorder: every client method the module calls is
recorded in ``calls`` as ``(name, arg1, arg2, ...)`` (bound to the real signature, defaults filled
in) and can be given a scripted outcome. Calls the client makes to itself (find_user_eventually to
find_user) are not recorded; every HTTP request is, in ``requests``.
"""

from __future__ import annotations

import functools
import inspect
import json
from urllib.parse import parse_qsl, unquote, urlsplit

from ansible_collections.d365.identity.plugins.module_utils._errors import D365Error
from ansible_collections.d365.identity.plugins.module_utils._transport.session import TransportFailure
from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, FakeSession
from ansible_collections.d365.identity.tests.unit.fakes.identity import FakeTokens


class Lost:
    """A scripted outcome: the call goes through (the service applies it), then its answer is lost
    and error is raised, as a dropped connection after the write landed."""

    def __init__(self, error):
        self.error = error

    def __repr__(self):
        return "Lost(%r)" % (self.error,)


class _NoEffect:
    def __repr__(self):
        return "NO_EFFECT"


NO_EFFECT = _NoEffect()
"""A scripted outcome: the call answers success and the service changes nothing."""


class Answer(Exception):
    """Raised inside a fake's request handler: the HTTP answer to send (an error body)."""

    def __init__(self, status, body=None, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


class _ServiceSession:
    """The session of a real client attached to a fake: requests go to the fake's handler."""

    def __init__(self, service, base_url):
        self.service, self.base_url, self.headers = service, base_url.rstrip("/"), {}

    def request(self, method, url, params=None, data=None, headers=None, timeout=None, **kwargs):
        if not url.lower().startswith(self.base_url.lower() + "/"):
            raise AssertionError("%s got a request for %s, outside %s" % (type(self.service).__name__, url, self.base_url))
        parts = urlsplit(url[len(self.base_url) + 1:])
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(params or {})
        body = json.loads(data) if data else None
        record = {"method": method, "path": unquote(parts.path), "params": query, "body": body,
                  "headers": dict(headers or {}), "timeout": timeout}
        self.service.requests.append(record)
        drop = self.service._take_drop(method, record["path"])
        if drop is not None and not drop:
            raise TransportFailure("ConnectionResetError")
        try:
            status, answer, answer_headers = self.service.handle(method, record["path"], query, body, record["headers"])
        except Answer as error:
            status, answer, answer_headers = error.status, error.body, error.headers
        if drop:
            raise TransportFailure("ConnectionResetError")  # applied, the answer never came
        return FakeResponse(status, answer, answer_headers)


class _ServiceTokens:
    """The tenant's token provider as one service's client sees it: refused when the service says so."""

    def __init__(self, service, tokens):
        self.service, self.tokens = service, tokens

    def get_token(self, scope, force_refresh=False):
        if self.service.token_error is not None:
            raise self.service.token_error
        return self.tokens.get_token(scope, force_refresh)


class _Recorder:
    """The real client as the module sees it: method calls recorded and scripted, the rest passed on."""

    def __init__(self, service, client):
        object.__setattr__(self, "_service", service)
        object.__setattr__(self, "_client", client)

    def __getattr__(self, name):
        value = getattr(self._client, name)
        if name.startswith("_") or not callable(value):
            return value
        return functools.partial(self._service._call, self._client, name)

    def __setattr__(self, name, value):
        setattr(self._client, name, value)


class FakeService:
    """Base of FakeGraph, FakeDataverse and FakeAdmin.

    Subclasses set ``real`` (the client class), ``write_methods`` (its methods that write) and
    implement ``handle(method, path, query, body, headers)`` returning (status, body, headers) or
    raising Answer.
    """

    real = None
    write_methods = frozenset()

    def __init__(self):
        self.calls = []
        self.requests = []
        self.slept = []
        self.token_error = None
        self._script = {}
        self._always = {}
        self._drops = []

    # -- wiring ------------------------------------------------------------------------------

    def attach(self, client, tokens=None):
        """Serve a real client built by the real factory: its requests come here. Returns what the
        module gets (the client behind the recorder)."""
        client.session = _ServiceSession(self, client.base_url)
        client.token_provider = _ServiceTokens(self, tokens or FakeTokens())
        client.sleep = self.slept.append
        return _Recorder(self, client)

    def _call(self, client, name, *args, **kwargs):
        function = getattr(type(client), name)
        try:
            bound = inspect.signature(function).bind(client, *args, **kwargs)
        except TypeError as exc:
            raise TypeError("%s.%s%s: %s" % (type(client).__name__, name, inspect.signature(function), exc)) from None
        bound.apply_defaults()
        values = []
        for pname, param in list(inspect.signature(function).parameters.items())[1:]:
            value = bound.arguments.get(pname)
            if param.kind is inspect.Parameter.VAR_KEYWORD and not value:
                continue
            values.append(value)
        self.calls.append((name,) + _frozen(values))
        outcome = None if client.check_mode and name in self.write_methods else self._outcome(name)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is NO_EFFECT:
            return None
        if callable(outcome) and not isinstance(outcome, Lost):
            outcome()  # something else happens first (another client takes the last seat, ...)
        answer = getattr(client, name)(*args, **kwargs)
        if isinstance(outcome, Lost):
            raise outcome.error
        return answer

    # -- scripted outcomes -------------------------------------------------------------------

    def fail(self, method, *outcomes):
        """Queue what the next calls of a client method do, one outcome a call: an exception (raised,
        nothing sent), Lost(exception), NO_EFFECT, a function (called first: something changes the
        service meanwhile, then the call goes through), or None (the call goes through). Returns self."""
        self._check_method(method)
        self._script.setdefault(method, []).extend(outcomes)
        return self

    def fail_always(self, error, *methods):
        """Every call of these client methods (of any, when none is named) raises error. Returns self."""
        for method in methods or (None,):
            if method is not None:
                self._check_method(method)
            self._always[method] = error
        return self

    def drop_connection(self, method, path_end, applied=True):
        """The next HTTP request of this method whose path ends with path_end loses its connection:
        after the service applied it (applied=True) or before it arrived. The real client then does
        what it does (retries what is idempotent, raises TransportError otherwise). Returns self."""
        self._drops.append((method.upper(), path_end, applied))
        return self

    def _take_drop(self, method, path):
        for index, (drop_method, path_end, applied) in enumerate(self._drops):
            if drop_method == method.upper() and path.endswith(path_end):
                del self._drops[index]
                return applied
        return None

    def refuse_tokens(self, error):
        """Entra refuses every token for this service (error: fakes.token_refused(...)). Returns self."""
        self.token_error = error
        return self

    def _check_method(self, method):
        if not callable(getattr(self.real, method, None)):
            raise AssertionError("%s has no method %r" % (self.real.__name__, method))

    def _outcome(self, name):
        error = self._always.get(name, self._always.get(None))
        if error is not None:
            return error
        queue = self._script.get(name)
        return queue.pop(0) if queue else None

    # -- what happened -------------------------------------------------------------------------

    def names(self):
        """The client methods the module called, in order."""
        return [call[0] for call in self.calls]

    def calls_to(self, name):
        """The arguments of every call of one client method, in order."""
        self._check_method(name)
        return [call[1:] for call in self.calls if call[0] == name]

    def writes(self):
        """The calls of methods that write, attempted ones included (refused in check mode, failed, lost);
        a direct client.request() counts unless it is a GET."""
        return [call for call in self.calls if call[0] in self.write_methods
                or (call[0] == "request" and str(call[1]).upper() not in ("GET", "HEAD"))]

    def sent(self, method=None):
        """The HTTP requests sent (of one HTTP method): what reached the service."""
        return [r for r in self.requests if method is None or r["method"] == method]

    # -- errors as the real client raises them -------------------------------------------------

    def throwaway_client(self):
        """A real client of this service's kind over an empty session (for error_from)."""
        raise NotImplementedError

    def error_from(self, status, body, method="GET", path="", headers=None):
        """The exception the real client raises when the service answers status and body."""
        client = self.throwaway_client()
        client.session = FakeSession([FakeResponse(status, body, headers)] * 2)  # a 401 is refreshed once
        client.max_retries = 0
        try:
            client.request(method, path)
        except D365Error as error:
            return error
        raise AssertionError("HTTP %d is not an error for %s" % (status, type(client).__name__))

    def no_answer(self, method="POST", path="", idempotent=None):
        """The TransportError the real client raises when a request gets no answer."""
        client = self.throwaway_client()
        client.session = FakeSession([TransportFailure("ConnectionResetError")] * 2)
        client.max_retries = 0
        try:
            client.request(method, path, idempotent=idempotent)
        except D365Error as error:
            return error
        raise AssertionError("no TransportError")


def _frozen(values):
    """Recorded arguments: JSON-like copies (a module changing a dict it passed cannot change the record)."""
    return tuple(json.loads(json.dumps(v)) if isinstance(v, (dict, list)) else v for v in values)


def collection(items, context, next_link=None):
    body = {"@odata.context": context, "value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body

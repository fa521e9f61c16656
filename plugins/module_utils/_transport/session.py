# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""HttpSession: kept-alive HTTPS connections on the standard library (http.client and ssl).

Why not requests: importing it costs every module task about 40 ms, more than the task's own work
once a token is cached (msal, which needs requests, is only imported to fetch a token). What the
collection relied on requests for is kept here:
- one kept-alive connection per host (a connection the server closed while idle is not reused);
- the CA bundle from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else certifi's (as requests), else the system's;
- HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY (an http:// proxy; https through a CONNECT tunnel);
- dict bodies sent form-encoded, and msal's documented http_client interface (post/get, responses with
  status_code, text, headers and raise_for_status):
  https://learn.microsoft.com/en-us/python/api/msal/msal.application.clientapplication
Not needed by Graph, Dataverse, the admin API or the identity platform, so not done: redirects, cookies,
compression.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import socket
import ssl
from urllib.parse import unquote, urlencode, urlsplit

from .._version import USER_AGENT

CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
DEFAULT_PORTS = {"https": 443, "http": 80}


class TransportFailure(Exception):
    """No HTTP answer: refused, reset, timed out, TLS not trusted. kind names the cause without URL or data."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class HttpStatusError(Exception):
    """raise_for_status() on a 4xx/5xx answer (msal's interface)."""

    def __init__(self, response):
        super().__init__("HTTP %d" % response.status_code)
        self.response = response


class Headers(dict):
    """Response headers, looked up case-insensitively; repeated headers are joined with ', '."""

    def __init__(self, pairs=()):
        super().__init__()
        for name, value in pairs:
            key = name.lower()
            super().__setitem__(key, "%s, %s" % (self[key], value) if key in self else value)

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def __contains__(self, name):
        return super().__contains__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)


class HttpResponse:
    __slots__ = ("status_code", "reason", "headers", "content")

    def __init__(self, status_code, reason, headers, content):
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.text)

    def raise_for_status(self):
        if self.status_code >= 400:
            raise HttpStatusError(self)


def ca_bundle():
    """The CA file (or directory) to trust, as requests picks it; None: the system's store."""
    for name in CA_BUNDLE_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    try:
        import certifi  # requests' own default; a dependency of requests, so present wherever msal is
    except ImportError:
        return None
    return certifi.where()


def proxy_for(scheme, host):
    """The proxy URL the environment names for scheme://host, or None (NO_PROXY, or none set)."""
    # Imported here: urllib.request is only needed when a connection is opened.
    from urllib.request import getproxies_environment, proxy_bypass_environment

    proxies = getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy and proxy_bypass_environment(host, proxies):
        return None
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy  # as requests reads "proxy:3128"
    return proxy or None


class HttpSession:
    """requests.Session's subset this collection uses: request(), and post()/get() for msal."""

    def __init__(self):
        self.headers = {"User-Agent": USER_AGENT}
        self._connections = {}
        self._context = None

    # -- requests ---------------------------------------------------------------------

    def request(self, method, url, params=None, data=None, headers=None, timeout=None, **_ignored):
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise TransportFailure("unsupported URL scheme %r" % parts.scheme)
        target = parts.path or "/"
        query = parts.query
        if params:
            query = (query + "&" if query else "") + urlencode(params, doseq=True)
        if query:
            target += "?" + query
        sent = dict(self.headers)
        sent.update(headers or {})
        body = data
        if isinstance(data, dict):
            body = urlencode(data, doseq=True)
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if isinstance(body, str):
            body = body.encode("utf-8")
        key = (parts.scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[parts.scheme])
        connection, via_proxy = self._connection(key, timeout)
        if via_proxy:
            target = "%s://%s%s" % (parts.scheme, parts.netloc, target)  # plain http through a proxy: absolute form
            sent.update(via_proxy)
        try:
            connection.request(method, target, body=body, headers=sent)
            answer = connection.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop(key)
            raise TransportFailure(_kind(exc)) from None
        if answer.will_close:
            self._drop(key)
        return HttpResponse(answer.status, answer.reason, Headers(answer.getheaders()), content)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        return self.request("POST", url, params=params, data=data, headers=headers, **kwargs)

    def get(self, url, params=None, headers=None, **kwargs):
        return self.request("GET", url, params=params, headers=headers, **kwargs)

    def close(self):
        for key in list(self._connections):
            self._drop(key)

    # -- connections ------------------------------------------------------------------

    def _connection(self, key, timeout):
        """(connection, extra headers for a plain-http request through a proxy, or None)."""
        held = self._connections.get(key)
        if held and not _closed_by_peer(held[0]):
            held[0].timeout = timeout
            if held[0].sock is not None:
                held[0].sock.settimeout(timeout)
            return held
        if held:
            self._drop(key)
        scheme, host, port = key
        proxy = proxy_for(scheme, host)
        via_proxy = None
        if proxy:
            proxy_parts = urlsplit(proxy)
            if proxy_parts.scheme != "http" or not proxy_parts.hostname:
                raise TransportFailure("the proxy URL must be http://host:port (got a %s:// proxy)" % proxy_parts.scheme)
            auth = {}
            if proxy_parts.username:
                pair = "%s:%s" % (unquote(proxy_parts.username), unquote(proxy_parts.password or ""))
                auth["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
            address = (proxy_parts.hostname, proxy_parts.port or 80)
        else:
            address = (host, port)
        if scheme == "https":
            connection = http.client.HTTPSConnection(address[0], address[1], timeout=timeout, context=self._tls())
            if proxy:
                connection.set_tunnel(host, port, headers=auth)
        else:
            connection = http.client.HTTPConnection(address[0], address[1], timeout=timeout)
            via_proxy = auth if proxy else None
        self._connections[key] = (connection, via_proxy)
        return connection, via_proxy

    def _tls(self):
        if self._context is None:
            bundle = ca_bundle()
            try:
                if bundle and os.path.isdir(bundle):
                    self._context = ssl.create_default_context(capath=bundle)
                else:
                    self._context = ssl.create_default_context(cafile=bundle)
            except (OSError, ssl.SSLError) as exc:
                raise TransportFailure("the CA bundle %s cannot be used (%s): check REQUESTS_CA_BUNDLE"
                                       % (bundle, exc.__class__.__name__)) from None
        return self._context

    def _drop(self, key):
        held = self._connections.pop(key, None)
        if held:
            held[0].close()


def _closed_by_peer(connection):
    """An idle kept-alive connection that is readable has been closed by the server (or is out of step)."""
    sock = connection.sock
    if sock is None:
        return False  # not connected yet: http.client connects on the first request
    try:
        readable, dummy_w, dummy_x = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _kind(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "Timeout"
    if str(exc).startswith("Tunnel connection failed"):
        return "proxy: " + str(exc)  # http.client's text: the proxy's status line, no URL
    return exc.__class__.__name__

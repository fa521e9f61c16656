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
- HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY as requests reads them (host suffixes, host:port, IP ranges
  in CIDR notation); an http:// proxy, https through a CONNECT tunnel;
- a timeout on every request, also those msal sends (it passes none to an http_client it is given);
- dict bodies sent form-encoded, and msal's documented http_client interface (post/get, responses with
  status_code, text, headers and raise_for_status):
  https://learn.microsoft.com/en-us/python/api/msal/msal.application.clientapplication
Not needed by Graph, Dataverse, the admin API or the identity platform, so not done: redirects (a 3xx is
an error, ApiClient), cookies, compression. A configuration the session cannot use (the proxy URL, the CA
bundle) is a ConfigError: retrying cannot mend it.
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

from .._connection import TIMEOUT
from .._errors import ConfigError
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
    """(CA file or directory to trust, the variable that named it), as requests picks it; (None, None): the system's."""
    for name in CA_BUNDLE_VARIABLES:
        if os.environ.get(name):
            return os.environ[name], name
    try:
        import certifi  # requests' own default; a dependency of requests, so present wherever msal is
    except ImportError:
        return None, None
    return certifi.where(), None


def _environment(name):
    """A proxy variable, the lowercase spelling first (as requests and urllib read them)."""
    return os.environ.get(name.lower()) or os.environ.get(name.upper()) or ""


def bypasses_proxy(host, port, no_proxy=None):
    """Whether NO_PROXY exempts host[:port], the way requests decides (requests.utils.should_bypass_proxies): '*',
    a host name suffix, host:port, an IP address or an IP range in CIDR notation."""
    import ipaddress  # only with a proxy set: most runs never need it

    no_proxy = _environment("no_proxy") if no_proxy is None else no_proxy
    entries = [entry.strip().lower() for entry in no_proxy.split(",") if entry.strip()]
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in entries:
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            if entry in (host, "%s:%s" % (host, port)):
                return True
        elif host.endswith(entry.lstrip(".")) or ("%s:%s" % (host, port)).endswith(entry):
            return True
    return False


def proxy_for(scheme, host, port=None):
    """The proxy URL the environment names for scheme://host, or None (NO_PROXY, or none set)."""
    proxy = _environment(scheme + "_proxy") or _environment("all_proxy")
    if not proxy or bypasses_proxy(host, port or DEFAULT_PORTS.get(scheme)):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy  # as requests reads "proxy:3128"
    return proxy


def parse_proxy(proxy):
    """(host, port, extra headers) of an http:// proxy URL; ConfigError (without the URL: it may hold a password)."""
    try:
        parts = urlsplit(proxy)
        host, port, user, password = parts.hostname, parts.port or 80, parts.username, parts.password
    except ValueError:
        raise ConfigError("The proxy URL in HTTPS_PROXY / HTTP_PROXY cannot be read: write it as "
                          "http://[user:password@]host:port and percent-encode special characters of the password "
                          "(# as %23, / as %2F, @ as %40).") from None
    if parts.scheme != "http" or not host:
        raise ConfigError("The proxy URL in HTTPS_PROXY / HTTP_PROXY must be http://[user:password@]host:port (got a "
                          "%s:// URL): the tunnel to the service is encrypted end to end anyway." % parts.scheme)
    headers = {}
    if user:
        pair = "%s:%s" % (unquote(user), unquote(password or ""))
        try:
            raw = pair.encode("latin-1")  # as requests encodes basic credentials
        except UnicodeEncodeError:
            raw = pair.encode("utf-8")
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
    return host, port, headers


class HttpSession:
    """requests.Session's subset this collection uses: request(), and post()/get() for msal."""

    def __init__(self, timeout=TIMEOUT):
        self.headers = {"User-Agent": USER_AGENT}
        self.timeout = timeout  # for requests that name none (msal's)
        self._connections = {}
        self._context = None

    # -- requests ---------------------------------------------------------------------

    def request(self, method, url, params=None, data=None, headers=None, timeout=None, **_ignored):
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError("Only https:// and http:// URLs can be used (got a %s:// URL)." % parts.scheme)
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
        connection, via_proxy = self._connection(key, self.timeout if timeout is None else timeout)
        if via_proxy is not None:
            target = "%s://%s%s" % (parts.scheme, parts.netloc, target)  # plain http through a proxy: absolute form
            sent.update(via_proxy)
        try:
            connection.request(method, target, body=body, headers=sent)
            answer = connection.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop(key)
            raise TransportFailure(_kind(exc)) from None
        except ValueError:
            # http.client's text quotes the offending header value, which may be the bearer token.
            self._drop(key)
            raise ConfigError("A request to %s was not sent: a header or the URL holds characters HTTP does not allow "
                              "(a damaged token cache file? Delete it: D365_TOKEN_CACHE_DIR)." % parts.hostname) from None
        except BaseException:
            self._drop(key)  # half used: the next request must not go out on it
            raise
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
        proxy = proxy_for(scheme, host, port)
        via_proxy = None
        if proxy:
            proxy_host, proxy_port, proxy_headers = parse_proxy(proxy)
            address = (proxy_host, proxy_port)
        else:
            address = (host, port)
        if scheme == "https":
            connection = http.client.HTTPSConnection(address[0], address[1], timeout=timeout, context=self._tls())
            if proxy:
                connection.set_tunnel(host, port, headers=proxy_headers)
        else:
            connection = http.client.HTTPConnection(address[0], address[1], timeout=timeout)
            via_proxy = proxy_headers if proxy else None
        self._connections[key] = (connection, via_proxy)
        return connection, via_proxy

    def _tls(self):
        if self._context is None:
            bundle, variable = ca_bundle()
            try:
                if bundle and os.path.isdir(bundle):
                    self._context = ssl.create_default_context(capath=bundle)
                else:
                    self._context = ssl.create_default_context(cafile=bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError("The CA bundle %s cannot be used (%s): check %s." % (
                    bundle, exc.__class__.__name__, variable or "the certifi package")) from None
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
        poller = select.poll()  # poll, unlike select, takes any file descriptor number
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _kind(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "Timeout"
    if str(exc).startswith("Tunnel connection failed"):
        return "proxy: " + str(exc)  # http.client's text: the proxy's status line, no URL
    return exc.__class__.__name__

# SPDX-License-Identifier: GPL-3.0-or-later
"""HttpSession against real local servers: TLS trust from REQUESTS_CA_BUNDLE, kept-alive connections,
proxies (CONNECT tunnel, NO_PROXY), timeouts, and msal's http_client interface."""

from __future__ import annotations

import base64
import http.server
import json
import select
import socket
import ssl
import threading
from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError
from ansible_collections.d365.identity.plugins.module_utils._transport.session import (
    HttpSession, HttpStatusError, TransportFailure, bypasses_proxy, ca_bundle, proxy_for)
from ansible_collections.d365.identity.plugins.module_utils._version import USER_AGENT
from ansible_collections.d365.identity.tests.emulator.tls import make_ca_and_server_cert

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.seen.append({"method": self.command, "path": self.path, "body": body,
                                 "headers": dict(self.headers), "peer": self.client_address})
        if self.path.startswith("/slow"):
            threading.Event().wait(2)
        status = 404 if self.path.startswith("/missing") else 200
        data = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "3")
        self.send_header("X-Twice", "a")
        self.send_header("X-Twice", "b")
        self.send_header("Content-Length", str(len(data)))
        if self.path.startswith("/close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


def serve(server):
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_ca_and_server_cert(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def tls_server(certificates):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates["cert"], certificates["key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield serve(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def trusted(monkeypatch, certificates):
    for name in PROXY_VARIABLES + ("CURL_CA_BUNDLE",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certificates["ca"])


def url(server, path):
    return "https://127.0.0.1:%d%s" % (server.server_address[1], path)


def test_request_sends_params_body_and_user_agent_and_reads_the_answer(tls_server, trusted):
    session = HttpSession()
    answer = session.request("POST", url(tls_server, "/api/x?a=1"), params={"$filter": "mail eq 'j@x'"},
                             data='{"k": "v"}', headers={"Content-Type": "application/json"}, timeout=5)
    seen = tls_server.seen[0]
    assert answer.status_code == 200 and answer.json() == {"path": seen["path"]}
    assert dict(parse_qsl(urlsplit(seen["path"]).query)) == {"a": "1", "$filter": "mail eq 'j@x'"}
    assert seen["body"] == '{"k": "v"}' and seen["headers"]["User-Agent"] == USER_AGENT
    assert answer.headers["retry-after"] == answer.headers.get("Retry-After") == "3"
    assert "RETRY-AFTER" in answer.headers and answer.headers["X-Twice"] == "a, b"


def test_a_kept_alive_connection_serves_the_next_request(tls_server, trusted):
    session = HttpSession()
    for path in ("/one", "/two", "/three"):
        assert session.get(url(tls_server, path), timeout=5).status_code == 200
    assert len({seen["peer"] for seen in tls_server.seen}) == 1


def test_a_connection_the_server_closed_is_not_reused(tls_server, trusted):
    session = HttpSession()
    assert session.get(url(tls_server, "/close"), timeout=5).status_code == 200  # Connection: close
    assert session.get(url(tls_server, "/after"), timeout=5).status_code == 200
    assert len({seen["peer"] for seen in tls_server.seen}) == 2


def test_an_idle_connection_dropped_by_the_server_is_replaced(tls_server, trusted):
    session = HttpSession()
    session.get(url(tls_server, "/one"), timeout=5)
    connection = next(iter(session._connections.values()))[0]  # pylint: disable=protected-access
    connection.sock.shutdown(socket.SHUT_RD)  # to select() this looks like the peer's close: readable
    assert session.get(url(tls_server, "/two"), timeout=5).status_code == 200
    assert len({seen["peer"] for seen in tls_server.seen}) == 2


def test_msal_http_client_interface(tls_server, trusted):
    session = HttpSession()
    answer = session.post(url(tls_server, "/token"), data={"grant_type": "client_credentials", "scope": "a b"},
                          timeout=5)
    seen = tls_server.seen[0]
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(seen["body"])) == {"grant_type": "client_credentials", "scope": "a b"}
    assert json.loads(answer.text) == {"path": "/token"}
    answer.raise_for_status()
    with pytest.raises(HttpStatusError):
        session.get(url(tls_server, "/missing"), params={"q": "1"}, timeout=5).raise_for_status()


def test_a_server_outside_the_ca_bundle_is_refused(tls_server, trusted, monkeypatch, tmp_path):
    other = make_ca_and_server_cert(str(tmp_path))["ca"]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other)
    with pytest.raises(TransportFailure) as caught:
        HttpSession().get(url(tls_server, "/x"), timeout=5)
    assert caught.value.kind == "SSLCertVerificationError"
    assert tls_server.seen == []


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_an_unreadable_ca_bundle_is_named_with_its_variable(trusted, monkeypatch, tmp_path, variable):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv(variable, str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="missing.pem cannot be used .*check %s" % variable):
        HttpSession().get("https://127.0.0.1:1/x", timeout=1)


def test_ca_bundle_is_picked_as_requests_picks_it(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/a.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/b.pem")
    assert ca_bundle() == ("/a.pem", "REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert ca_bundle() == ("/b.pem", "CURL_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE")
    import certifi
    assert ca_bundle() == (certifi.where(), None)


@pytest.mark.parametrize("per_request", [True, False])
def test_a_silent_server_times_out(per_request):
    """Also for requests that name no timeout, as msal sends them: the session's default applies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection, never answers the TLS handshake
        url = "https://127.0.0.1:%d/x" % listener.getsockname()[1]
        with pytest.raises(TransportFailure) as caught:
            if per_request:
                HttpSession().get(url, timeout=0.3)
            else:
                HttpSession(timeout=0.3).get(url)
    assert caught.value.kind == "Timeout"


class TunnelProxy(http.server.BaseHTTPRequestHandler):
    """A CONNECT proxy that records what it was asked, then relays bytes both ways."""

    def do_CONNECT(self):  # pylint: disable=invalid-name
        self.server.seen.append({"target": self.path, "auth": self.headers.get("Proxy-Authorization")})
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        while True:
            readable, dummy_w, dummy_x = select.select(sockets, [], [], 5)
            if not readable:
                break
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if sock is self.connection else self.connection).sendall(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy():
    server = serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), TunnelProxy))
    yield server
    server.shutdown()
    server.server_close()


def test_https_goes_through_the_proxy_tunnel_with_its_credentials(tls_server, trusted, proxy, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://ops%40corp:p%3Ass@127.0.0.1:{0}".format(proxy.server_address[1]))
    answer = HttpSession().get(url(tls_server, "/via-proxy"), timeout=5)
    assert answer.status_code == 200 and tls_server.seen[0]["path"] == "/via-proxy"
    assert proxy.seen == [{"target": "127.0.0.1:%d" % tls_server.server_address[1],
                           "auth": "Basic " + base64.b64encode(b"ops@corp:p:ss").decode()}]


def test_no_proxy_bypasses_the_proxy(tls_server, trusted, proxy, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.server_address[1])
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert HttpSession().get(url(tls_server, "/direct"), timeout=5).status_code == 200
    assert proxy.seen == [] and tls_server.seen[0]["path"] == "/direct"


def test_proxy_variables_as_requests_reads_them(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https", "graph.microsoft.com") is None
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    assert proxy_for("https", "graph.microsoft.com") == "http://proxy.corp:3128"
    monkeypatch.setenv("https_proxy", "http://lower.corp:8080")  # the lowercase spelling wins, as in requests
    assert proxy_for("https", "graph.microsoft.com") == "http://lower.corp:8080"
    monkeypatch.setenv("NO_PROXY", ".dynamics.com")
    assert proxy_for("https", "contoso.crm4.dynamics.com") is None
    assert proxy_for("https", "graph.microsoft.com") == "http://lower.corp:8080"
    monkeypatch.setenv("ALL_PROXY", "http://all.corp:1")
    assert proxy_for("http", "169.254.169.254") == "http://all.corp:1"


@pytest.mark.parametrize("no_proxy, host, port, bypassed", [
    ("169.254.0.0/16", "169.254.169.254", 80, True),  # IMDS behind an IP range, as Kubernetes sets it
    ("10.0.0.0/8", "10.1.2.3", 8080, True),
    ("10.0.0.0/8", "11.1.2.3", 80, False),
    ("localhost:40342", "localhost", 40342, True),  # the Arc identity endpoint
    ("localhost:40342", "localhost", 80, False),
    ("127.0.0.1", "127.0.0.1", 443, True),
    (".dynamics.com", "contoso.crm4.dynamics.com", 443, True),
    ("dynamics.com", "contoso.crm4.dynamics.com", 443, True),
    (" graph.microsoft.com , x", "GRAPH.microsoft.com", 443, True),
    ("*", "anything.example", 443, True),
    ("", "graph.microsoft.com", 443, False),
])
def test_no_proxy_entries_as_requests_matches_them(no_proxy, host, port, bypassed):
    assert bypasses_proxy(host, port, no_proxy) is bypassed


@pytest.mark.parametrize("proxy, fix", [
    ("https://proxy.corp:3128", "must be http://"),
    ("http://svc:Tr0ub4dor#3xyz@proxy.corp:3128", "percent-encode"),  # '#' cuts the URL: its password must not show
])
def test_an_unusable_proxy_url_is_a_config_error_without_its_password(trusted, monkeypatch, proxy, fix):
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    with pytest.raises(ConfigError, match=fix) as caught:
        HttpSession().get("https://graph.example/x", timeout=1)
    assert "Tr0ub4dor" not in str(caught.value) and "proxy.corp" not in str(caught.value)


class PlainProxy(http.server.BaseHTTPRequestHandler):
    """A plain-http forward proxy that records the request line and answers itself."""

    def do_GET(self):  # pylint: disable=invalid-name
        self.server.seen.append({"line": self.requestline, "host": self.headers.get("Host"),
                                 "auth": self.headers.get("Proxy-Authorization")})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("credentials", ["", "ops:pw@"])
def test_plain_http_goes_to_the_proxy_in_absolute_form(trusted, monkeypatch, credentials):
    server = serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), PlainProxy))
    try:
        monkeypatch.setenv("HTTP_PROXY", "http://%s127.0.0.1:%d" % (credentials, server.server_address[1]))
        assert HttpSession().get("http://169.254.169.254/metadata/identity/oauth2/token", params={"resource": "x"},
                                 timeout=5).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    (seen,) = server.seen
    assert seen["line"] == "GET http://169.254.169.254/metadata/identity/oauth2/token?resource=x HTTP/1.1"
    assert seen["host"] == "169.254.169.254"
    assert seen["auth"] == ("Basic " + base64.b64encode(b"ops:pw").decode() if credentials else None)


def test_a_half_used_connection_is_dropped_after_any_error(tls_server, trusted):
    session = HttpSession()
    assert session.get(url(tls_server, "/one"), timeout=5).status_code == 200
    with pytest.raises(ConfigError, match="not sent") as caught:
        session.get(url(tls_server, "/two"), headers={"Authorization": "Bearer secret-token\r\nInjected: 1"}, timeout=5)
    assert "secret-token" not in str(caught.value) and caught.value.__cause__ is None  # the header value stays out
    assert session._connections == {}  # pylint: disable=protected-access
    assert session.get(url(tls_server, "/three"), timeout=5).status_code == 200

"""HTTPS server: TLS, routing to the service modules, latency, fault injection and the request log."""
import json
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import admin_api, control, dataverse, graph, login
from .httpio import HttpError, Request, Response, bap_error, dataverse_error, graph_error, login_error
from .scenario import DEFAULT_SCENARIO, build_state, load_file
from .throttling import Concurrency, FaultInjector, SlidingWindow, retry_after_fractional, retry_after_seconds
from .tls import make_ca_and_server_cert
from .tokens import JwtError, TokenSigner, decode_unverified


class Emulator:
    def __init__(self, state_dir, port=0, scenario_path=None):
        os.makedirs(state_dir, exist_ok=True)
        self.state_dir = os.path.abspath(state_dir)
        self.tls_paths = make_ca_and_server_cert(self.state_dir)
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.load_cert_chain(self.tls_paths["cert"], self.tls_paths["key"])
        self.signer = TokenSigner()
        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.httpd.emulator = self
        self.base_url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.authority_host = self.base_url
        self.graph_url = f"{self.base_url}/graph"
        self.admin_api_url = f"{self.base_url}/bap"
        self.control_url = f"{self.base_url}/_emulator"
        self.mi_header = secrets.token_hex(16)
        self.scenario = load_file(scenario_path or DEFAULT_SCENARIO)
        self.cert_cache = {}
        self.faults = FaultInjector()
        self.graph_writes, self.dv_requests, self.dv_concurrency = SlidingWindow(), SlidingWindow(), Concurrency()
        self._log, self._log_lock = [], threading.Lock()
        self.reset()
        self.endpoints = self._endpoints()
        with open(os.path.join(self.state_dir, "endpoints.json"), "w") as f:
            json.dump(self.endpoints, f, indent=2)

    def reset(self):
        self.state = build_state(self.scenario, self.base_url, self.state_dir, self.cert_cache)
        self.faults.seed = object()
        self.faults.reseed(self.state.knobs.get("fault_seed"))
        self.graph_writes.clear()
        self.dv_requests.clear()
        self.clear_log()

    def _endpoints(self):
        st = self.state
        by_name = {c["name"]: c for c in st.clients.values()}
        main, cert = by_name.get("main"), by_name.get("certificate")
        limited, public = by_name.get("limited"), by_name.get("public")
        mi = next((c for c in st.clients.values() if c["managed_identity"]), None)
        return {
            "authority_host": self.authority_host, "tenant_id": st.tenant_id,
            "client_id": main and main["client_id"], "client_secret": main and main["secret"],
            "certificate_client_id": cert and cert["client_id"],
            "client_certificate_path": cert and cert["cert_path"],
            "graph_url": self.graph_url, "admin_api_url": self.admin_api_url,
            "environments": [e.url for e in st.environments.values()],
            "environment_ids": {e.url: e.id for e in st.environments.values()},
            "ca_bundle": self.tls_paths["ca"], "control_url": self.control_url,
            "managed_identity_endpoint": f"{self.base_url}/msi/token",
            "managed_identity_header": self.mi_header,
            # extras beyond the contract, for negative tests
            "managed_identity_client_id": mi and mi["client_id"],
            "public_client_id": public and public["client_id"],
            "limited_client_id": limited and limited["client_id"],
            "limited_client_secret": limited and limited["secret"],
        }

    # ----- request log -----
    def log(self, req, status, dropped=False, fault=None):
        entry = {"time": time.time(), "arrived": getattr(req, "arrived", None), "method": req.method, "path": req.path, "query": req.query_string,
                 "status": status, "service": req.service, "environment": req.environment,
                 "client_id": req.client_id, "audience": req.audience, "user": req.user,
                 "request_id": req.request_id, "dropped": dropped, "fault": fault,
                 "token": (getattr(req, "claims", None) or {}).get("uti")}
        with self._log_lock:
            self._log.append(entry)

    def request_log(self):
        with self._log_lock:
            return list(self._log)

    def clear_log(self):
        with self._log_lock:
            self._log.clear()

    def sleep_latency(self, req):
        if not getattr(req, "latency_done", False):
            req.latency_done = True
            ms = float(self.state.knobs.get("latency_ms") or 0)
            if ms:
                time.sleep(ms / 1000.0)

    def serve_forever(self):
        self.httpd.serve_forever(poll_interval=0.2)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, OSError)):
            traceback.print_exc()


def route(path):
    if path.startswith("/msi/"):
        return "msi", login.managed_identity
    if path.startswith("/graph/") or path == "/graph":
        return "graph", graph.handle
    if path.startswith("/bap/"):
        return "admin_api", admin_api.handle
    if path.startswith("/dataverse/"):
        return ("page" if path.endswith("/main.aspx") else "dataverse"), dataverse.handle
    return "login", login.handle


def identify_for_log(emu, req):
    """An injected fault answers before the service reads the request: still name its sender in the log (the bearer
    token's claims, unverified, and the Dataverse environment of the path), so a request sent inside the fault's
    Retry-After window can be told apart from another client's."""
    auth = req.header("Authorization") or ""
    if auth.lower().startswith("bearer "):
        try:
            claims = decode_unverified(auth[7:].strip())[1]
        except JwtError:
            claims = None
        if isinstance(claims, dict):
            req.claims, req.client_id, req.audience = claims, claims.get("appid"), claims.get("aud")
    if req.service == "dataverse":
        name = dataverse.split_path(req.path)[0]
        if name in emu.state.environments:
            req.environment = name


def fault_response(service, kind, req, retry):
    status = int(kind)
    if service == "graph":
        if status == 429:
            return graph.throttled(req, retry).response
        code = "generalException" if status == 500 else "serviceNotAvailable"
        return graph_error(req, status, code, "Injected fault.", headers={"Retry-After": retry_after_fractional(retry)}
                           if status == 503 else None).response
    if service in ("dataverse", "page"):
        code = {429: "0x80072322", 500: "0x80040216", 503: "0x80040216"}[status]
        return dataverse_error(status, code, "Injected fault (service protection)." if status == 429 else
                               "Injected fault.", {"Retry-After": retry_after_seconds(retry)}).response
    if service == "admin_api":
        code = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}[status]
        return bap_error(status, code, "Injected fault.", {"Retry-After": retry_after_seconds(retry)}).response
    if service == "msi":
        return Response(status, {"statusCode": status, "message": "Injected fault."},
                        {"Retry-After": retry_after_seconds(retry)})
    err = "temporarily_unavailable" if status in (429, 503) else "server_error"
    return login_error(status, err, 90033, "A transient error has occurred. Please try again.",
                       {"Retry-After": retry_after_seconds(retry)}).response


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 120

    def setup(self):
        # TLS handshake in the connection's own thread, not in the accept loop.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = self.server.emulator.ssl_context.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format, *args):  # quiet: the control API has the request log
        pass

    def do_GET(self):
        self._dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self):
        emu = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        req = Request(self.command, split.path, split.query, self.headers, body, emu.base_url)
        if split.path.startswith("/_emulator"):
            self._send(control.handle(emu, req))
            return
        service, handler = route(split.path)
        req.service = service
        knobs = emu.state.knobs
        fault, after_write = emu.faults.decide(knobs, service)
        if fault == "drop" and not (after_write and req.is_write):
            emu.log(req, None, dropped=True, fault="drop")
            self._drop()
            return
        if fault in ("429", "500", "503"):
            identify_for_log(emu, req)
            emu.sleep_latency(req)
            resp = fault_response(service, fault, req, float(knobs.get("fault_retry_after") or 1))
            self._finish(emu, req, resp, fault)
            return
        try:
            resp = handler(emu, req)
        except HttpError as exc:
            resp = exc.response
        except Exception:  # a bug in the emulator: answer 500 and show the traceback on stderr
            traceback.print_exc()
            resp = Response(500, {"error": {"code": "EmulatorBug", "message": traceback.format_exc(limit=3)}})
        if fault == "drop":  # the write was applied, then the connection dies (clients must not blindly retry)
            emu.log(req, resp.status, dropped=True, fault="drop-after-write")
            self._drop()
            return
        self._finish(emu, req, resp, None)

    def _finish(self, emu, req, resp, fault):
        emu.sleep_latency(req)
        if req.service == "login" and req.client_id is None and req.method == "POST":
            try:
                req.client_id = req.form().get("client_id")
            except Exception:
                pass
        emu.log(req, resp.status, fault=fault)
        self._send(resp)

    def _send(self, resp):
        self.send_response(resp.status)
        headers = {"Cache-Control": "no-store, no-cache", **resp.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.body)))
        # One write for head and body: two small writes meet Nagle + delayed ACK (~40 ms per request).
        self._headers_buffer.append(b"\r\n" + (resp.body if self.command != "HEAD" else b""))
        self.flush_headers()

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

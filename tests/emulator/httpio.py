"""Request/response value objects and the error-body shapes of each Microsoft service."""
import json
import time
import uuid
from urllib.parse import parse_qs

from .state import iso


class Request:
    def __init__(self, method, path, query, headers, body, base_url):
        self.method, self.path, self.query_string, self.headers, self.body = method, path, query, headers, body
        self.base_url = base_url
        self.query = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        self.request_id = str(uuid.uuid4())
        self.arrived = time.time()  # when the request was read, before any injected latency (request log)
        # filled by the services for the control API request log
        self.service = self.environment = self.client_id = self.audience = self.user = None
        self.claims = None
        self.is_write = method in ("POST", "PATCH", "PUT", "DELETE")

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        if not self.body:
            return None
        return json.loads(self.body)

    def form(self):
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class Response:
    def __init__(self, status, body=b"", headers=None, content_type=None):
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json; charset=utf-8"
        elif isinstance(body, str):
            body = body.encode()
        self.body = body or b""
        if content_type:
            self.headers["Content-Type"] = content_type


class HttpError(Exception):
    """Raised by handlers; carries a ready Response."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def graph_error(req, status, code, message, details=None, headers=None):
    # Graph error body, fact sheet §2 and examples/graph-error-format.json
    err = {"code": code, "message": message,
           "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "request-id": req.request_id,
                          "client-request-id": req.header("client-request-id", req.request_id)}}
    if details:
        err["details"] = details
    return HttpError(Response(status, {"error": err}, headers))


def dataverse_error(status, code, message, headers=None):
    # Dataverse error body {"error":{"code":"0x8004....","message"}}, fact sheet §6 and examples
    return HttpError(Response(status, {"error": {"code": code, "message": message}},
                              {"OData-Version": "4.0", **(headers or {})},
                              "application/json; odata.metadata=minimal"))


def bap_error(status, code, message, headers=None):
    # ARM-style error body used by the admin API (fact sheet §7: codes userNotLicensed, Forbidden, ...)
    return HttpError(Response(status, {"error": {"code": code, "message": message}}, headers))


def login_error(status, error, code, description, headers=None):
    # Flat snake_case token error, examples/oidc-token-client-credentials-2.json
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = iso().replace("T", " ")
    return HttpError(Response(status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\n"
                             f"Timestamp: {stamp}",
        "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": corr,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}"}, headers))

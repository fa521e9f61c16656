"""Entra ID v2.0 endpoints: OIDC metadata, JWKS, token (client credentials with secret or certificate
assertion, resource-owner password), user-realm discovery, and an App Service style managed-identity endpoint.
Fact sheet §1."""
import base64
import hmac
import json
import secrets
import time
from urllib.parse import unquote

from .httpio import HttpError, Response, login_error
from .tls import thumbprints
from .tokens import JwtError, b64u, b64u_decode, certificate_public_key, decode_unverified, verify_signature

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RESERVED_SCOPES = {"openid", "profile", "offline_access", "email"}


def resolve_tenant(server, name):
    st = server.state
    if name.lower() == st.tenant_id or name.lower() in st.domains:
        return st.tenant_id
    raise login_error(400, "invalid_request", 90002,
                      f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are "
                      "signing into the correct cloud. Check with your subscription administrator, this may "
                      "happen if there are no active subscriptions for the tenant.")


def handle(server, req):
    parts = [unquote(p) for p in req.path.strip("/").split("/")]
    if len(parts) >= 3 and parts[0] == "common" and parts[1] == "userrealm":
        return user_realm(server, parts[2])
    tid = resolve_tenant(server, parts[0])
    rest = "/".join(parts[1:])
    if rest == "v2.0/.well-known/openid-configuration" and req.method == "GET":
        return Response(200, openid_configuration(server, tid))
    if rest == "discovery/v2.0/keys" and req.method == "GET":
        return Response(200, server.signer.jwks())
    if rest == "oauth2/v2.0/token" and req.method == "POST":
        return token(server, req, tid, parts[0])
    raise HttpError(Response(404, {"error": "not_found", "error_description": f"No such endpoint {req.path}"}))


def openid_configuration(server, tid):
    # What msal needs with instance_discovery=False (fact sheet §1 "Authority rules").
    base = f"{server.authority_host}/{tid}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{server.graph_url}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "oid", "upn", "name"],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def user_realm(server, username):
    # msal's ROPC first asks for the realm; "Managed" makes it use the plain password grant.
    domain = username.rpartition("@")[2].lower()
    known = domain in server.state.domains
    return Response(200, {"ver": "1.0", "account_type": "Managed" if known else "Unknown",
                          "domain_name": domain, "cloud_instance_name": "microsoftonline.com",
                          "cloud_audience_urn": "urn:federation:MicrosoftOnline"})


def known_resources(server):
    return {"https://graph.microsoft.com": "https://graph.microsoft.com",
            "00000003-0000-0000-c000-000000000000": "https://graph.microsoft.com",
            "https://service.powerapps.com": "https://service.powerapps.com",
            **{env.url.lower(): env.url for env in server.state.environments.values()}}


def resource_of(server, resource, tid):
    """Map a resource (scope without its last segment) to the token audience, or AADSTS500011."""
    aud = known_resources(server).get(resource.rstrip("/").lower())
    if aud is None:
        raise login_error(400, "invalid_resource", 500011,
                          f"The resource principal named {resource} was not found in the tenant named "
                          f"{server.state.tenant_name}. This can happen if the application has not been "
                          "installed by the administrator of the tenant or consented to by any user in the tenant.")
    return aud


def token(server, req, tid, tenant_in_path):
    form = req.form()
    grant = form.get("grant_type")
    with server.state.lock:
        if grant == "client_credentials":
            client = authenticate_client(server, req, form, tid, tenant_in_path)
            scopes = form.get("scope", "").split()
            if not scopes:
                raise login_error(400, "invalid_request", 900144,
                                  "The request body must contain the following parameter: 'scope'.")
            # One resource per call, "<resource>/.default" only (fact sheet §1).
            if len(scopes) != 1 or not scopes[0].endswith("/.default"):
                raise login_error(400, "invalid_scope", 70011,
                                  "The provided value for the input parameter 'scope' is not valid. "
                                  f"The scope {' '.join(scopes)} is not valid.")
            aud = resource_of(server, scopes[0][: -len("/.default")], tid)
            return Response(200, issue_app_token(server, client, aud))
        if grant == "password":
            return password_grant(server, req, form, tid, tenant_in_path)
    raise login_error(400, "unsupported_grant_type", 70003,
                      f"The app requested an unsupported grant type '{grant}'.")


def find_client(server, client_id, tid):
    client = server.state.clients.get((client_id or "").lower())
    if client is None:
        if int(server.state.knobs.get("unknown_client_code")) == 7000215:
            raise login_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        # Real service: AADSTS700016 unauthorized_client (assumption knob unknown_client_code, §1).
        raise login_error(400, "unauthorized_client", 700016,
                          f"Application with identifier '{client_id}' was not found in the directory "
                          f"'{server.state.tenant_name}'. This can happen if the application has not been "
                          "installed by the administrator of the tenant or consented to by any user in the tenant. "
                          "You may have sent your authentication request to the wrong tenant.")
    return client


def authenticate_client(server, req, form, tid, tenant_in_path, allow_public=False):
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = req.header("Authorization") or ""
    if basic.lower().startswith("basic "):  # client_secret_basic
        client_id, dummy, secret = base64.b64decode(basic[6:]).decode().partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
    if form.get("client_assertion"):
        return verify_assertion(server, form, tid, tenant_in_path)
    client = find_client(server, client_id, tid)
    if client["public"] and allow_public and not secret:
        return client
    if not secret:
        raise login_error(401, "invalid_client", 7000218,
                          "The request body must contain the following parameter: 'client_assertion' or "
                          "'client_secret'.")
    if not client["secret"] or not hmac.compare_digest(client["secret"], secret):
        raise login_error(401, "invalid_client", 7000215,
                          "Invalid client secret provided. Ensure the secret being sent in the request is the "
                          f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.")
    return client


def verify_assertion(server, form, tid, tenant_in_path):
    """Certificate credential: RS256/PS256 JWT signed by the registered certificate (fact sheet §1)."""
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise login_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
    try:
        head, claims, sig, signed = decode_unverified(form["client_assertion"])
    except JwtError:
        raise login_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from None
    client_id = form.get("client_id") or claims.get("iss")
    client = find_client(server, client_id, tid)
    if claims.get("iss") != client["client_id"] or claims.get("sub") != client["client_id"] or \
            (form.get("client_id") and form["client_id"].lower() != client["client_id"]):
        raise login_error(401, "invalid_client", 700021,
                          "Client assertion application identifier doesn't match 'client_id' parameter.")
    if not client["cert_der"]:
        raise login_error(401, "invalid_client", 700027,
                          "Client assertion contains an invalid signature. [Reason - The key was not found.]")
    sha1, sha256 = thumbprints(client["cert_der"])
    x5t256, x5t = head.get("x5t#S256"), head.get("x5t")
    if not ((x5t256 and b64u_decode(x5t256) == sha256) or (x5t and b64u_decode(x5t) == sha1)):
        raise login_error(401, "invalid_client", 700027,
                          "Client assertion contains an invalid signature. [Reason - The key was not found., "
                          f"Thumbprint of key used by client: '{x5t256 or x5t}']")
    try:
        verify_signature(certificate_public_key(client["cert_der"]), head.get("alg"), signed, sig)
    except JwtError:
        raise login_error(401, "invalid_client", 700027, "Client assertion contains an invalid signature.") from None
    endpoints = {f"{server.authority_host}/{t}/oauth2/v2.0/token".lower() for t in (tid, tenant_in_path)}
    if (claims.get("aud") or "").lower() not in endpoints:
        raise login_error(401, "invalid_client", 50013,
                          f"Assertion failed signature validation. [Reason - Audience '{claims.get('aud')}' "
                          "does not match the token endpoint.]")
    if claims.get("exp", 0) <= time.time():
        raise login_error(401, "invalid_client", 700024,
                          f"Client assertion is not within its valid time range. Current time: {int(time.time())}, "
                          f"expiry time of assertion {claims.get('exp')}.")
    return client


def _base_claims(server, aud, lifetime):
    now = int(time.time())
    # uti: the token identifier, opaque (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference);
    # ASSUMPTION: a random value per issued token. The request log records it, so a benchmark can tell the
    # requests of one token cache (one machine) from another's.
    return {"aud": aud, "iss": f"https://sts.windows.net/{server.state.tenant_id}/", "iat": now, "nbf": now,
            "exp": now + lifetime, "tid": server.state.tenant_id, "ver": "1.0", "uti": secrets.token_urlsafe(16)}


def issue_app_token(server, client, aud):
    lifetime = int(server.state.knobs.get("token_lifetime", 3599))
    claims = _base_claims(server, aud, lifetime)
    claims.update({"appid": client["client_id"], "azp": client["client_id"], "oid": client["object_id"],
                   "sub": client["object_id"], "idtyp": "app", "app_displayname": client["name"]})
    if aud == "https://graph.microsoft.com" and client["graph_permissions"]:
        claims["roles"] = list(client["graph_permissions"])  # Graph application permissions
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": server.signer.sign(claims)}


def password_grant(server, req, form, tid, tenant_in_path):
    """Resource-owner password credentials for tenant users (fact sheet §2 passwordProfile)."""
    st = server.state
    client = authenticate_client(server, req, form, tid, tenant_in_path, allow_public=True)
    scopes = [s for s in form.get("scope", "").split() if s not in RESERVED_SCOPES]
    if len(scopes) != 1 or "/" not in scopes[0]:
        raise login_error(400, "invalid_scope", 70011,
                          "The provided value for the input parameter 'scope' is not valid. "
                          f"The scope {form.get('scope', '')} is not valid.")
    resource, dummy, scope_name = scopes[0].rpartition("/")
    aud = resource_of(server, resource, tid)
    user = st.find_user(form.get("username", ""))
    if user is None:
        raise login_error(400, "invalid_grant", 50034,
                          f"The user account {{EmailHidden}} does not exist in the {st.domains[0]} directory. "
                          "To sign into this application, the account must be added to the directory.")
    if not hmac.compare_digest(user["password"], form.get("password", "")):
        raise login_error(400, "invalid_grant", 50126,
                          "Error validating credentials due to invalid username or password.")
    if not user["accountEnabled"]:
        raise login_error(400, "invalid_grant", 50057,
                          "The user account is disabled. The account has been disabled by an administrator.")
    if user["forceChangePasswordNextSignIn"]:
        # Exact code UNCONFIRMED in fact sheet §2 -> assumption knob force_change_password_error_code.
        code = int(st.knobs.get("force_change_password_error_code", 50055))
        raise login_error(400, "invalid_grant", code, "The password is expired. The user must change the "
                          "password before signing in (forceChangePasswordNextSignIn).")
    lifetime = int(st.knobs.get("token_lifetime", 3599))
    claims = _base_claims(server, aud, lifetime)
    scp = "user_impersonation" if scope_name == ".default" else scope_name
    claims.update({"appid": client["client_id"], "oid": user["id"], "sub": user["id"], "idtyp": "user",
                   "upn": user["userPrincipalName"], "unique_name": user["userPrincipalName"],
                   "name": user["displayName"], "scp": scp, "amr": ["pwd"]})
    body = {"token_type": "Bearer", "scope": scopes[0], "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": server.signer.sign(claims)}
    if "openid" in form.get("scope", "").split():
        now = int(time.time())
        body["id_token"] = server.signer.sign({
            "aud": client["client_id"], "iss": f"{server.authority_host}/{tid}/v2.0", "iat": now, "nbf": now,
            "exp": now + lifetime, "name": user["displayName"], "oid": user["id"], "sub": user["id"],
            "preferred_username": user["userPrincipalName"], "tid": tid, "ver": "2.0"})
    if form.get("client_info") == "1":
        body["client_info"] = b64u(json.dumps({"uid": user["id"], "utid": tid}))
    return Response(200, body)


def managed_identity(server, req):
    """App Service MSI protocol as msal's ManagedIdentityClient speaks it (api-version 2019-08-01)."""
    st = server.state
    if not hmac.compare_digest(req.header("X-IDENTITY-HEADER", ""), server.mi_header):
        raise HttpError(Response(401, {"statusCode": 401, "message": "Unauthorized: invalid X-IDENTITY-HEADER."}))
    if req.query.get("api-version") != "2019-08-01":
        raise HttpError(Response(400, {"statusCode": 400, "message": "Invalid api-version."}))
    with st.lock:
        mis = [c for c in st.clients.values() if c["managed_identity"]]
        wanted = req.query.get("client_id") or req.query.get("object_id")
        client = next((c for c in mis if not wanted or wanted.lower() in (c["client_id"], c["object_id"])), None)
        if client is None:
            raise HttpError(Response(400, {"statusCode": 400, "message": "No managed identity found for the request."}))
        resource = req.query.get("resource", "")
        if resource.endswith("/.default"):
            resource = resource[: -len("/.default")]
        aud = known_resources(server).get(resource.rstrip("/").lower())
        if aud is None:
            raise HttpError(Response(500, {"statusCode": 500, "message": f"Unknown resource {resource}."}))
        tok = issue_app_token(server, client, aud)
    req.client_id = client["client_id"]
    return Response(200, {"access_token": tok["access_token"],
                          "expires_on": str(int(time.time()) + tok["expires_in"]),
                          "resource": req.query.get("resource"), "token_type": "Bearer",
                          "client_id": client["client_id"]})

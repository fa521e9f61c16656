"""Bearer-token checks shared by the resource services (fact sheet §1: one audience per resource)."""
import time

from .tokens import JwtError

GRAPH_AUDIENCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")
ADMIN_API_AUDIENCES = ("https://service.powerapps.com",)  # §7: tokens never follow the override URLs


def authenticate(server, req, audiences, fail):
    """Return the claims of a valid token for one of ``audiences``; otherwise raise ``fail(reason)``.

    ``reason`` is one of missing/malformed/expired/audience/tenant."""
    auth = req.header("Authorization") or ""
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        raise fail("missing")
    try:
        claims = server.signer.verify(auth[7:].strip())
    except JwtError:
        raise fail("malformed") from None
    req.claims = claims
    req.client_id = claims.get("appid")
    req.audience = claims.get("aud")
    req.user = claims.get("oid") if claims.get("idtyp") == "user" else None
    if claims.get("exp", 0) <= time.time():
        raise fail("expired")
    if claims.get("tid") != server.state.tenant_id:
        raise fail("tenant")
    if (claims.get("aud") or "").rstrip("/").lower() not in [a.rstrip("/").lower() for a in audiences]:
        raise fail("audience")
    return claims


def is_app_token(claims):
    return claims.get("idtyp") != "user"

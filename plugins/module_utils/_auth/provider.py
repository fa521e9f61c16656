# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Authentication: shared options, one strategy per credential type, and a token provider.

Strategies validate() without network access, so a missing option fails before any request.
TokenProvider wraps msal's client credentials flow (one msal application per process, built
only when the persisted cache has no usable token: building it already fetches OIDC metadata).
https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
"""

from __future__ import annotations

import base64
import hashlib
import time
import traceback

from ansible.module_utils.basic import env_fallback

from .._errors import AuthError, ConfigError
from .._transport.http import scrub_queries
from .._transport.retry import RetryBudget
from .token_cache import FileTokenCache, cache_key, default_cache_dir, fingerprint

try:
    import msal
    HAS_MSAL = True
    MSAL_IMPORT_ERROR = None
except ImportError:
    HAS_MSAL = False
    MSAL_IMPORT_ERROR = traceback.format_exc()

AUTH_METHODS = ["auto", "client_secret", "certificate", "managed_identity"]

AUTH_ARGSPEC = {
    "tenant_id": {"type": "str", "aliases": ["tenant"],
                  "fallback": (env_fallback, ["AZURE_TENANT_ID", "AZURE_TENANT"])},
    "client_id": {"type": "str", "fallback": (env_fallback, ["AZURE_CLIENT_ID"])},
    "client_secret": {"type": "str", "no_log": True, "aliases": ["secret"],
                      "fallback": (env_fallback, ["AZURE_CLIENT_SECRET", "AZURE_SECRET"])},
    "client_certificate_path": {"type": "path", "aliases": ["x509_certificate_path"],
                                "fallback": (env_fallback, ["AZURE_CLIENT_CERTIFICATE_PATH"])},
    "client_certificate_password": {"type": "str", "no_log": True,
                                    "fallback": (env_fallback, ["AZURE_CLIENT_CERTIFICATE_PASSWORD"])},
    "auth_method": {"type": "str", "default": "auto", "choices": AUTH_METHODS},
    "cloud_environment": {"type": "str", "default": "public",
                          "fallback": (env_fallback, ["AZURE_CLOUD_ENVIRONMENT"])},
    "authority_host": {"type": "str", "fallback": (env_fallback, ["AZURE_AUTHORITY_HOST"])},
    "graph_url": {"type": "str", "fallback": (env_fallback, ["D365_GRAPH_URL"])},
    "admin_api_url": {"type": "str", "fallback": (env_fallback, ["D365_ADMIN_API_URL"])},
    "timeout": {"type": "int", "default": 30},
    "max_retries": {"type": "int", "default": 6},
    "token_cache": {"type": "bool", "default": True},
}

# Refresh a cached token this long before it expires, so it outlives the task using it.
EXPIRY_MARGIN = 300

# AADSTS codes whose fix we can name (the description from Entra is kept as well).
AADSTS_HINTS = {
    "AADSTS7000215": "the client secret is wrong or expired: check client_secret (AZURE_CLIENT_SECRET)",
    "AADSTS7000222": "the client secret has expired: create a new secret for the app registration",
    "AADSTS700016": "the application was not found in the tenant: check client_id and tenant_id",
    "AADSTS90002": "the tenant was not found: check tenant_id (AZURE_TENANT_ID) and cloud_environment",
    "AADSTS700027": "the certificate is not registered on the app registration: upload its public part",
    "AADSTS70011": "the scope is invalid for this resource: check environment_url and cloud_environment",
}
TRANSIENT_AUTH_ERRORS = ("temporarily_unavailable", "server_error")


def _missing(params, names):
    return [name for name in names if not params.get(name)]


class ClientSecretCredential:
    name = "client_secret"

    def __init__(self, params):
        self.tenant_id = params.get("tenant_id")
        self.client_id = params.get("client_id")
        self._secret = params.get("client_secret")

    def validate(self):
        missing = _missing({"tenant_id": self.tenant_id, "client_id": self.client_id,
                            "client_secret": self._secret}, ("tenant_id", "client_id", "client_secret"))
        if missing:
            raise ConfigError("auth_method client_secret needs %s (env %s)." % (
                ", ".join(missing), ", ".join(ENV_NAMES[m] for m in missing)))

    def msal_credential(self):
        return self._secret

    def fingerprint(self):
        return fingerprint(self._secret)


class CertificateCredential:
    """PEM file with private key and certificate; msal (>= 1.35) computes the SHA-256
    thumbprint from public_certificate, so nobody has to copy a thumbprint around."""

    name = "certificate"

    def __init__(self, params):
        self.tenant_id = params.get("tenant_id")
        self.client_id = params.get("client_id")
        self.path = params.get("client_certificate_path")
        self._password = params.get("client_certificate_password")
        self._pem = None

    def validate(self):
        missing = _missing({"tenant_id": self.tenant_id, "client_id": self.client_id,
                            "client_certificate_path": self.path},
                           ("tenant_id", "client_id", "client_certificate_path"))
        if missing:
            raise ConfigError("auth_method certificate needs %s (env %s)." % (
                ", ".join(missing), ", ".join(ENV_NAMES[m] for m in missing)))
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConfigError("client_certificate_path %s cannot be read: %s." % (self.path, exc.__class__.__name__))
        conversion = _binary_certificate_hint(self.path, data)
        if conversion:
            raise ConfigError(conversion)
        try:
            self._pem = data.decode("ascii")
        except UnicodeDecodeError:
            raise ConfigError("client_certificate_path %s is not a PEM (text) file: it must hold both the "
                              "private key and the certificate (cat key.pem cert.pem > client.pem)." % self.path) from None
        if "PRIVATE KEY-----" not in self._pem or "-----BEGIN CERTIFICATE-----" not in self._pem:
            raise ConfigError(
                "client_certificate_path %s must be a PEM file holding both the private key and "
                "the certificate (cat key.pem cert.pem > client.pem)." % self.path)
        if "ENCRYPTED" in self._pem and not self._password:
            raise ConfigError("The private key in %s is encrypted: set client_certificate_password "
                              "(AZURE_CLIENT_CERTIFICATE_PASSWORD)." % self.path)

    def msal_credential(self):
        start = self._pem.index("-----BEGIN CERTIFICATE-----")
        end = self._pem.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
        credential = {"private_key": self._pem, "public_certificate": self._pem[start:end]}
        if self._password:
            credential["passphrase"] = self._password
        return credential

    def fingerprint(self):
        """SHA-256 thumbprint of the certificate: a renewed certificate gets fresh tokens."""
        public = self.msal_credential()["public_certificate"]
        body = "".join(line for line in public.splitlines() if line and not line.startswith("-----"))
        try:
            return hashlib.sha256(base64.b64decode(body)).hexdigest()[:16]
        except ValueError:
            return fingerprint(public)


# DER starts with a SEQUENCE; PKCS#12 (PFX) continues with version 3, a private key with
# version 0 or 1, a certificate with another SEQUENCE. msal takes PEM only, so name the conversion.
# https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials
def _binary_certificate_hint(path, data):
    is_pkcs12 = path.lower().endswith((".pfx", ".p12"))
    if b"-----BEGIN" in data or not (is_pkcs12 or data[:1] == b"\x30"):
        return None
    header = 2
    if len(data) > 1 and data[1] & 0x80:
        header += data[1] & 0x7F
    body = data[header:header + 3]
    if is_pkcs12 or body == b"\x02\x01\x03":
        return ("client_certificate_path %s is a PKCS#12 (.pfx/.p12) file, but a PEM file with the private key "
                "and the certificate is needed. Convert it: openssl pkcs12 -in %s -out client.pem -nodes "
                "(add -legacy for files exported by older Windows tools; leave out -nodes to keep the key "
                "encrypted and set client_certificate_password)." % (path, path))
    if body in (b"\x02\x01\x00", b"\x02\x01\x01"):
        return ("client_certificate_path %s is a DER (binary) private key, but a PEM file with the private key "
                "and the certificate is needed. Convert it: openssl pkey -inform der -in %s -out key.pem, "
                "then cat key.pem cert.pem > client.pem." % (path, path))
    return ("client_certificate_path %s is a DER (binary) certificate, but a PEM file with the private key and "
            "the certificate is needed. Convert it: openssl x509 -inform der -in %s -out cert.pem, then "
            "cat key.pem cert.pem > client.pem." % (path, path))


class ManagedIdentityCredential:
    """System-assigned, or user-assigned when client_id is set."""

    name = "managed_identity"

    def __init__(self, params):
        self.tenant_id = params.get("tenant_id")
        self.client_id = params.get("client_id")

    def validate(self):
        return None

    def msal_identity(self):
        if self.client_id:
            return msal.UserAssignedManagedIdentity(client_id=self.client_id)
        return msal.SystemAssignedManagedIdentity()

    def cache_client_id(self):
        """The client_id msal's ManagedIdentityClient files its tokens under (None when system-assigned)."""
        return self.msal_identity().get("Id", "SYSTEM_ASSIGNED_MANAGED_IDENTITY")  # msal.managed_identity.ManagedIdentity.ID

    def fingerprint(self):
        return fingerprint("managed_identity:" + (self.client_id or "system-assigned"))


STRATEGIES = {cls.name: cls for cls in (ClientSecretCredential, CertificateCredential, ManagedIdentityCredential)}

ENV_NAMES = {
    "tenant_id": "AZURE_TENANT_ID",
    "client_id": "AZURE_CLIENT_ID",
    "client_secret": "AZURE_CLIENT_SECRET",
    "client_certificate_path": "AZURE_CLIENT_CERTIFICATE_PATH",
}


def select_credential(params):
    """Pick and validate the credential strategy; no network access."""
    method = params.get("auth_method") or "auto"
    if method == "auto":
        if params.get("client_secret"):
            method = "client_secret"
        elif params.get("client_certificate_path"):
            method = "certificate"
        else:
            missing = _missing(params, ("tenant_id", "client_id"))
            raise ConfigError(
                "No credentials given: set client_secret (AZURE_CLIENT_SECRET) or "
                "client_certificate_path (AZURE_CLIENT_CERTIFICATE_PATH)%s, or use "
                "auth_method=managed_identity." % (
                    ", plus " + " and ".join("%s (%s)" % (m, ENV_NAMES[m]) for m in missing) if missing else ""))
    if method not in STRATEGIES:
        raise ConfigError("auth_method must be one of %s." % ", ".join(AUTH_METHODS))
    credential = STRATEGIES[method](params)
    credential.validate()
    return credential


class TokenProvider:
    """get_token(scope) for one credential; memoised per process, persisted across tasks."""

    def __init__(self, credential, authority_host, session, timeout=30, max_retries=6,
                 cache_store=None, instance_discovery=True, sleep=time.sleep):
        self.credential = credential
        self.authority = authority_host.rstrip("/") + "/" + (credential.tenant_id or "organizations")
        self.session = session
        self.timeout = timeout
        self.max_retries = max_retries
        self.cache_store = cache_store
        self.instance_discovery = instance_discovery
        self.sleep = sleep
        self._tokens = {}
        self._cache = None
        self.requests_made = 0  # token requests this process sent (tests and benchmarks read it)

    @classmethod
    def from_params(cls, params, authority_host, session, instance_discovery=True):
        credential = select_credential(params)
        store = None
        if params.get("token_cache", True):
            # The credential's fingerprint is part of the key: tokens issued to a secret that was
            # since changed or revoked must not keep a wrong secret "working".
            key = cache_key(authority_host, credential.tenant_id, "%s:%s" % (credential.name, credential.client_id),
                            credential.fingerprint())
            directory, user_supplied = default_cache_dir()
            store = FileTokenCache(directory, key, user_supplied=user_supplied)
        return cls(credential, authority_host, session, timeout=params.get("timeout") or 30,
                   max_retries=params.get("max_retries", 6), cache_store=store,
                   instance_discovery=instance_discovery)

    # -- public -----------------------------------------------------------------------

    def get_token(self, scope, force_refresh=False):
        if not force_refresh and scope in self._tokens:
            return self._tokens[scope]
        cache = self._token_cache()
        if force_refresh:
            self._forget(cache, scope)
        else:
            cached = self._find_cached(cache, scope)
            if cached:
                self._tokens[scope] = cached
                return cached
        token = self._acquire(scope)
        self._tokens[scope] = token
        self._persist(cache)
        return token

    # -- cache ------------------------------------------------------------------------

    def _token_cache(self):
        if self._cache is None:
            self._cache = msal.SerializableTokenCache()
            serialized = self.cache_store.load() if self.cache_store else None
            if serialized:
                try:
                    self._cache.deserialize(serialized)
                except ValueError:
                    self._cache = msal.SerializableTokenCache()  # corrupt file: start afresh
        return self._cache

    def _matching(self, cache, scope):
        if self.credential.name == "managed_identity":
            # ManagedIdentityClient files tokens under the resource, not the scope (managed
            # identities take a resource: https://learn.microsoft.com/en-us/entra/identity/
            # managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http).
            return list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, target=[_resource(scope)],
                                     query={"client_id": self.credential.cache_client_id()}))
        return list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, target=[scope],
                                 query={"client_id": self.credential.client_id}))

    def _find_cached(self, cache, scope):
        if self.credential.name == "managed_identity":
            return None  # msal's ManagedIdentityClient reads the cache itself, without a round trip
        now = time.time()
        for item in self._matching(cache, scope):
            try:
                expires_on = int(item.get("expires_on", 0))
            except (TypeError, ValueError):
                continue
            if expires_on - EXPIRY_MARGIN > now:
                return item.get("secret")
        return None

    def _forget(self, cache, scope):
        for item in self._matching(cache, scope):
            cache.remove_at(item)

    def _persist(self, cache):
        if self.cache_store and cache.has_state_changed:
            try:
                self.cache_store.save(cache.serialize())
            except OSError:
                # A read-only home (some execution environments) only costs later tasks a token request.
                self.cache_store = None
            cache.has_state_changed = False

    # -- acquisition ------------------------------------------------------------------

    def _new_app(self, cache):
        if self.credential.name == "managed_identity":
            return msal.ManagedIdentityClient(self.credential.msal_identity(), http_client=self.session,
                                              token_cache=cache)
        return msal.ConfidentialClientApplication(
            self.credential.client_id,
            client_credential=self.credential.msal_credential(),
            authority=self.authority,
            token_cache=cache,
            http_client=self.session,
            timeout=self.timeout,
            instance_discovery=self.instance_discovery,
        )

    def _call(self, app, scope):
        if self.credential.name == "managed_identity":
            return app.acquire_token_for_client(resource=_resource(scope))
        return app.acquire_token_for_client(scopes=[scope])

    def _acquire(self, scope):
        """Ask the identity platform; transient failures get a fresh msal app each try,
        because msal replays a cached 5xx/429 answer from its in-memory http cache."""
        budget = RetryBudget(self.max_retries, max_total_wait=120, sleep=self.sleep)
        cache = self._token_cache()
        while True:
            result, failure = self._try_once(cache, scope)
            if result and "access_token" in result:
                return result["access_token"]
            if result and result.get("error") not in TRANSIENT_AUTH_ERRORS:
                raise self._auth_error(result, scope)
            if not budget.wait():
                if result:
                    raise self._auth_error(result, scope)
                raise AuthError("Could not get a token for %s after %d tries: %s. Check that authority_host "
                                "is reachable (proxy, CA bundle REQUESTS_CA_BUNDLE)." % (
                                    scope, budget.attempt + 1, failure))

    def _try_once(self, cache, scope):
        """(msal result, None) or (None, transient failure text)."""
        self.requests_made += 1
        try:
            app = self._new_app(cache)
        except (ValueError, TypeError) as exc:
            if self.credential.name == "certificate":
                # msal loads the private key while building the app.
                raise AuthError("The private key in %s cannot be used (%s): check client_certificate_password."
                                % (self.credential.path, exc.__class__.__name__)) from None
            raise AuthError("The authority %s is not usable: %s. authority_host must be an https:// URL "
                            "serving OpenID metadata for tenant_id." % (self.authority, scrub_queries(exc))) from None
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Only the class name: exception text may echo request data.
            return None, "%s reaching %s" % (exc.__class__.__name__, self.authority)
        try:
            return self._call(app, scope), None
        except (ValueError, TypeError) as exc:
            if self.credential.name == "certificate":
                raise AuthError("The private key in %s cannot be used (%s): check "
                                "client_certificate_password." % (self.credential.path, exc.__class__.__name__)) from None
            raise AuthError("Token request for %s failed: %s." % (scope, exc.__class__.__name__)) from None
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # requests' connection errors and msal's MsalServiceError (5xx) are transient.
            return None, "%s reaching %s" % (exc.__class__.__name__, self.authority)

    def _auth_error(self, result, scope):
        description = (result.get("error_description") or "").strip()
        code = next((c for c in AADSTS_HINTS if c in description), None)
        hint = AADSTS_HINTS.get(code)
        message = "Entra ID refused a token for %s with client %s (%s): %s" % (
            scope, self.credential.client_id or "managed identity", result.get("error"),
            scrub_queries(description.splitlines()[0]) if description else "no description")
        if hint:
            message += " Fix: %s." % hint
        return AuthError(message, error=result.get("error"), correlation_id=result.get("correlation_id"))


def _resource(scope):
    return scope[:-len("/.default")] if scope.endswith("/.default") else scope


def default_instance_discovery(authority_host, cloud_authority_host):
    """msal's instance discovery only knows Microsoft hosts; skip it for overrides."""
    return authority_host.rstrip("/").lower() == cloud_authority_host.rstrip("/").lower()

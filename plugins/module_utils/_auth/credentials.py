# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Credential strategies: one class per auth_method, chosen from the STRATEGIES table.

A strategy declares its options, validates them without network access, names what its token
cache file is keyed on (never the secret itself), builds its msal application, finds its tokens
in the msal cache and asks the application for new ones. TokenProvider (provider.py) does what
all of them share. A new method is one class and one STRATEGIES entry (and its options in the
d365.identity._auth doc fragment).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import time
from collections import namedtuple

from ansible.module_utils.common.parameters import env_fallback

from .._errors import ConfigError
from .token_cache import fingerprint

# msal is imported only when a token must be fetched (it costs a task about 60 ms, requests included):
# a token in the cache file is found without it (Credential.stored_entries).
try:
    HAS_MSAL = importlib.util.find_spec("msal") is not None
except (ImportError, ValueError):
    HAS_MSAL = False
MSAL_IMPORT_ERROR = None if HAS_MSAL else "ModuleNotFoundError: No module named 'msal'"


def load_msal():
    """The msal package (imported on first use); ConfigError when it cannot be imported."""
    try:
        return importlib.import_module("msal")
    except ImportError as exc:  # a broken install (requests or cryptography missing) passes find_spec
        raise ConfigError("Failed to import the required Python library (msal), which fetches the tokens (%s: %s). "
                          "Install requirements.txt into the Python that runs the modules." % (
                              exc.__class__.__name__, exc)) from None


# Refresh a cached token this long before it expires, so it outlives the task using it.
EXPIRY_MARGIN = 300

# Options of every method. The first fallback variable is the one messages tell people to set.
COMMON_OPTIONS = {
    "tenant_id": {"type": "str", "aliases": ["tenant"],
                  "fallback": (env_fallback, ["AZURE_TENANT_ID", "AZURE_TENANT"])},
    "client_id": {"type": "str", "fallback": (env_fallback, ["AZURE_CLIENT_ID"])},
}

# What TokenProvider gives a strategy to build its msal application with. http_cache: msal's http_cache
# for the OpenID metadata, shared by the applications of one provider (provider.MetadataHttpCache).
AppSettings = namedtuple("AppSettings", "authority http_client timeout instance_discovery http_cache",
                         defaults=(None,))


def _missing(params, names):
    return [name for name in names if not params.get(name)]


def _resource(scope):
    return scope[:-len("/.default")] if scope.endswith("/.default") else scope


class Credential:
    """One auth_method. Subclasses set the class attributes and implement the msal part."""

    name = None  # the auth_method value, and part of the token cache key
    options = {}  # argspec entries only this method reads; AUTH_ARGSPEC merges them
    required = ()  # options validate() insists on
    auto_option = None  # auth_method=auto picks the first method (in STRATEGIES order) whose option is set

    def __init__(self, params):
        self.tenant_id = params.get("tenant_id")
        self.client_id = params.get("client_id")
        self._missing = _missing(params, self.required)

    @classmethod
    def env_name(cls, option):
        return (cls.options.get(option) or COMMON_OPTIONS[option])["fallback"][1][0]

    # -- no network -----------------------------------------------------------------------

    def validate(self):
        """Raise ConfigError naming what is missing or unusable, before any request."""
        if self._missing:
            raise ConfigError("auth_method %s needs %s (env %s)." % (
                self.name, ", ".join(self._missing), ", ".join(self.env_name(m) for m in self._missing)))

    def fingerprint(self):
        """A short one-way digest of the credential for the cache key: a changed credential gets fresh tokens."""
        raise NotImplementedError

    # -- msal -----------------------------------------------------------------------------

    def new_app(self, cache, settings):
        """A new msal application on cache (building one may already fetch OpenID metadata)."""
        raise NotImplementedError

    def acquire(self, app, scope):
        """msal's answer (a dict with access_token, or error and error_description)."""
        raise NotImplementedError

    def cache_query(self, scope):
        """(client_id, target): what the application files scope's access tokens under in msal's cache."""
        raise NotImplementedError

    def cached_entries(self, cache, scope):
        """The access token entries the application files for scope (a forced refresh removes them)."""
        client_id, target = self.cache_query(scope)
        return list(cache.search(load_msal().TokenCache.CredentialType.ACCESS_TOKEN, target=[target],
                                 query={"client_id": client_id}))

    def stored_entries(self, state, scope):
        """The same entries read from the cache file's JSON without msal: msal's search on its documented
        serialization (the "AccessToken" section; entries with an ext_cache_key answer only queries with one).
        Should msal change its format this finds nothing, and the msal path answers."""
        client_id, target = self.cache_query(scope)
        section = state.get("AccessToken") if isinstance(state, dict) else None
        return [entry for entry in (section.values() if isinstance(section, dict) else ())
                if isinstance(entry, dict) and entry.get("client_id") == client_id
                and target in str(entry.get("target", "")).split() and "ext_cache_key" not in entry]

    def cached_token(self, cache, scope):
        """A token from cache that outlives EXPIRY_MARGIN, without building an application; None asks it."""
        return fresh_secret(self.cached_entries(cache, scope))

    def unusable(self, exc):
        """The message for a ValueError or TypeError msal raised on this credential; None: the generic one."""
        return None


class ConfidentialClientCredential(Credential):
    """Client credentials flow of an app registration: an msal ConfidentialClientApplication.
    https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow"""

    def msal_credential(self):
        """client_credential for ConfidentialClientApplication."""
        raise NotImplementedError

    def new_app(self, cache, settings):
        return load_msal().ConfidentialClientApplication(
            self.client_id,
            client_credential=self.msal_credential(),
            authority=settings.authority,
            token_cache=cache,
            http_client=settings.http_client,
            timeout=settings.timeout,
            instance_discovery=settings.instance_discovery,
            http_cache=settings.http_cache,
        )

    def acquire(self, app, scope):
        return app.acquire_token_for_client(scopes=[scope])

    def cache_query(self, scope):
        return self.client_id, scope


def fresh_secret(entries):
    """The first access token of entries that outlives EXPIRY_MARGIN, or None."""
    now = time.time()
    for item in entries:
        try:
            expires_on = int(item.get("expires_on", 0))
        except (TypeError, ValueError):
            continue
        if expires_on - EXPIRY_MARGIN > now:
            return item.get("secret")
    return None


class ClientSecretCredential(ConfidentialClientCredential):
    name = "client_secret"
    options = {
        "client_secret": {"type": "str", "no_log": True, "aliases": ["secret"],
                          "fallback": (env_fallback, ["AZURE_CLIENT_SECRET", "AZURE_SECRET"])},
    }
    required = ("tenant_id", "client_id", "client_secret")
    auto_option = "client_secret"

    def __init__(self, params):
        super().__init__(params)
        self._secret = params.get("client_secret")

    def msal_credential(self):
        return self._secret

    def fingerprint(self):
        return fingerprint(self._secret)


class CertificateCredential(ConfidentialClientCredential):
    """PEM file with private key and certificate; msal (>= 1.35) computes the SHA-256
    thumbprint from public_certificate, so nobody has to copy a thumbprint around."""

    name = "certificate"
    options = {
        "client_certificate_path": {"type": "path", "aliases": ["x509_certificate_path"],
                                    "fallback": (env_fallback, ["AZURE_CLIENT_CERTIFICATE_PATH"])},
        "client_certificate_password": {"type": "str", "no_log": True,
                                        "fallback": (env_fallback, ["AZURE_CLIENT_CERTIFICATE_PASSWORD"])},
    }
    required = ("tenant_id", "client_id", "client_certificate_path")
    auto_option = "client_certificate_path"

    def __init__(self, params):
        super().__init__(params)
        self.path = params.get("client_certificate_path")
        self._password = params.get("client_certificate_password")
        self._pem = None

    def validate(self):
        super().validate()
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

    def unusable(self, exc):
        # msal loads the private key while building the application.
        return "The private key in %s cannot be used (%s): check client_certificate_password." % (
            self.path, exc.__class__.__name__)


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


class ManagedIdentityCredential(Credential):
    """System-assigned, or user-assigned when client_id is set. msal's ManagedIdentityClient takes a
    resource, not a scope (https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/
    how-to-use-vm-token#get-a-token-using-http), and files its tokens under that resource."""

    name = "managed_identity"

    def msal_identity(self):
        msal = load_msal()
        if self.client_id:
            return msal.UserAssignedManagedIdentity(client_id=self.client_id)
        return msal.SystemAssignedManagedIdentity()

    def cache_query(self, scope):
        # ManagedIdentityClient files its tokens under the identity's "Id": the client id of a user-assigned
        # identity, None for the system-assigned one (msal.managed_identity.ManagedIdentity).
        return self.client_id or None, _resource(scope)

    def fingerprint(self):
        return fingerprint("managed_identity:" + (self.client_id or "system-assigned"))

    def new_app(self, cache, settings):
        # No settings.http_cache: the token request is a GET here, and msal files its 429/5xx answers
        # there for replay. There is no OpenID metadata to share either.
        return load_msal().ManagedIdentityClient(self.msal_identity(), http_client=managed_identity_http(settings),
                                                 token_cache=cache)

    def acquire(self, app, scope):
        return app.acquire_token_for_client(resource=_resource(scope))


def managed_identity_http(settings):
    """The http_client for msal's ManagedIdentityClient: a requests.Session in place of the modules' own session.
    msal needs one for Service Fabric, and the local identity endpoints (IMDS, Arc, App Service) are plain-http
    hosts best reached the way msal's own tests do; msal imports requests anyway."""
    from .._transport.session import HttpSession  # pylint: disable=import-outside-toplevel

    if not isinstance(settings.http_client, HttpSession):
        return settings.http_client  # a test's stand-in
    import requests  # pylint: disable=import-outside-toplevel

    session = requests.Session()
    session.headers.update(settings.http_client.headers)
    return session


# auth_method -> strategy. Order matters for auth_method=auto: a secret wins over a certificate.
STRATEGIES = {cls.name: cls for cls in (ClientSecretCredential, CertificateCredential, ManagedIdentityCredential)}


def credential_argspec(strategies=None):
    """The credential options: those of every method, and auth_method choosing among them."""
    strategies = STRATEGIES if strategies is None else strategies
    spec = dict(COMMON_OPTIONS)
    for cls in strategies.values():
        spec.update(cls.options)
    spec["auth_method"] = {"type": "str", "default": "auto", "choices": ["auto"] + list(strategies)}
    return spec


def select_credential(params):
    """Pick and validate the credential strategy; no network access."""
    method = params.get("auth_method") or "auto"
    if method == "auto":
        method = next((cls.name for cls in STRATEGIES.values() if cls.auto_option and params.get(cls.auto_option)), None)
        if method is None:
            raise ConfigError(_no_credentials(params))
    if method not in STRATEGIES:
        raise ConfigError("auth_method must be one of %s." % ", ".join(credential_argspec()["auth_method"]["choices"]))
    credential = STRATEGIES[method](params)
    credential.validate()
    return credential


def _no_credentials(params):
    automatic = [cls for cls in STRATEGIES.values() if cls.auto_option]
    others = [name for name, cls in STRATEGIES.items() if not cls.auto_option]
    also_needed = {}  # option -> variable, what the automatic methods need besides their own option
    for cls in automatic:
        for name in cls.required:
            if name != cls.auto_option:
                also_needed.setdefault(name, cls.env_name(name))
    missing = [(name, also_needed[name]) for name in _missing(params, also_needed)]
    return "No credentials given: set %s%s%s." % (
        " or ".join("%s (%s)" % (cls.auto_option, cls.env_name(cls.auto_option)) for cls in automatic),
        ", plus " + " and ".join("%s (%s)" % pair for pair in missing) if missing else "",
        ", or use " + " or ".join("auth_method=" + name for name in others) if others else "")

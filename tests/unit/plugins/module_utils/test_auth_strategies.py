# SPDX-License-Identifier: GPL-3.0-or-later
"""Credential strategies: the STRATEGIES table, each strategy's own msal application and token
request, and a TokenProvider that works with any strategy, whatever it is called."""

from __future__ import annotations

import base64
import datetime
import json
import time

import msal
import pytest
from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.d365.identity.plugins.module_utils._auth.credentials import (
    EXPIRY_MARGIN, STRATEGIES, AppSettings, CertificateCredential, ClientSecretCredential,
    ConfidentialClientCredential, Credential, ManagedIdentityCredential, credential_argspec, select_credential)
from ansible_collections.d365.identity.plugins.module_utils._auth.provider import AUTH_ARGSPEC, TokenProvider
from ansible_collections.d365.identity.plugins.module_utils._auth.token_cache import FileTokenCache, fingerprint
from ansible_collections.d365.identity.plugins.module_utils._errors import AuthError, ConfigError
from ansible_collections.d365.identity.tests.unit.fakes.identity import FakeIdentityHttp, FakeManagedIdentityHttp

SECRET = "s3cret-Value~that-must-not-leak"
AUTHORITY_HOST = "https://login.example"
SCOPE = "https://graph.microsoft.com/.default"
SETTINGS = AppSettings("https://login.example/tenant-1", None, 30, False)


def provider(credential, http, store=None, **kwargs):
    return TokenProvider(credential, AUTHORITY_HOST, http, cache_store=store, instance_discovery=False,
                         sleep=lambda s: None, **kwargs)


# -- the table ----------------------------------------------------------------------------


def test_the_table_makes_the_argspec():
    assert list(STRATEGIES) == ["client_secret", "certificate", "managed_identity"]
    assert AUTH_ARGSPEC["auth_method"] == {"type": "str", "default": "auto",
                                           "choices": ["auto", "client_secret", "certificate", "managed_identity"]}
    for cls in STRATEGIES.values():
        assert issubclass(cls, Credential) and STRATEGIES[cls.name] is cls
        for name, spec in cls.options.items():
            assert AUTH_ARGSPEC[name] == spec
        for name in cls.required:
            assert name in AUTH_ARGSPEC and cls.env_name(name)  # messages can name its variable
    assert AUTH_ARGSPEC["client_secret"]["no_log"] and AUTH_ARGSPEC["client_certificate_password"]["no_log"]


class ClientAssertionCredential(ConfidentialClientCredential):
    """What a new method looks like: one class (options included) and one table entry."""

    name = "client_assertion"
    options = {"client_assertion": {"type": "str", "no_log": True,
                                    "fallback": (env_fallback, ["AZURE_CLIENT_ASSERTION"])}}
    required = ("tenant_id", "client_id", "client_assertion")
    auto_option = "client_assertion"

    def __init__(self, params):
        super().__init__(params)
        self._assertion = params.get("client_assertion")

    def msal_credential(self):
        return {"client_assertion": lambda: self._assertion}  # msal asks for it when it needs one

    def fingerprint(self):
        return fingerprint(self._assertion)


@pytest.fixture
def with_assertion(monkeypatch):
    monkeypatch.setitem(STRATEGIES, ClientAssertionCredential.name, ClientAssertionCredential)


def test_a_new_method_is_one_class_and_one_table_entry(with_assertion, tmp_path, monkeypatch):
    spec = credential_argspec()
    assert spec["client_assertion"]["no_log"] is True
    assert spec["auth_method"]["choices"][-1] == "client_assertion"

    params = {"tenant_id": "tenant-1", "client_id": "client-1", "client_assertion": "eyJ.assertion.sig"}
    assert select_credential(params).name == "client_assertion"  # auth_method auto finds it
    with pytest.raises(ConfigError) as caught:
        select_credential({"tenant_id": "t"})
    assert "client_assertion (AZURE_CLIENT_ASSERTION)" in caught.value.message
    with pytest.raises(ConfigError, match=r"auth_method client_assertion needs client_id \(env AZURE_CLIENT_ID\)\."):
        select_credential({"auth_method": "client_assertion", "tenant_id": "t", "client_assertion": "x"})
    with pytest.raises(ConfigError, match="one of auto, client_secret, certificate, managed_identity, client_assertion"):
        select_credential({"auth_method": "nope"})

    monkeypatch.setenv("D365_TOKEN_CACHE_DIR", str(tmp_path))
    http = FakeIdentityHttp()
    tokens = TokenProvider.from_params(params, AUTHORITY_HOST, http, instance_discovery=False)
    assert tokens.get_token(SCOPE) == "at-1"
    sent = http.token_posts[0]["data"]
    assert sent["client_assertion"] in ("eyJ.assertion.sig", b"eyJ.assertion.sig") and "client_secret" not in sent
    later = FakeIdentityHttp()
    assert TokenProvider.from_params(params, AUTHORITY_HOST, later, instance_discovery=False).get_token(SCOPE) == "at-1"
    assert later.token_posts == [] and later.gets == []  # the shared cache file serves it too


def test_existing_methods_keep_auto_order():
    both = {"tenant_id": "t", "client_id": "c", "client_secret": SECRET, "client_certificate_path": "/nowhere"}
    assert select_credential(both).name == "client_secret"


# -- TokenProvider only calls strategy methods --------------------------------------------


class FakeApp:
    def __init__(self, answers):
        self.answers = answers


class ScriptedCredential(Credential):
    """A strategy with no msal at all: TokenProvider must still do cache, retries and errors."""

    name = "scripted"

    def __init__(self, params):
        super().__init__(params)
        self.answers = list(params["answers"])
        self.apps = []
        self.asked = []
        self.cached = params.get("cached")
        self.entries = []

    def fingerprint(self):
        return fingerprint("scripted")

    def new_app(self, cache, settings):
        self.apps.append(settings)
        return FakeApp(self.answers)

    def acquire(self, app, scope):
        self.asked.append(scope)
        answer = app.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def cached_entries(self, cache, scope):
        return self.entries

    def cached_token(self, cache, scope):
        return self.cached

    def unusable(self, exc):
        return "scripted credential is unusable (%s)" % exc.__class__.__name__


def scripted(*answers, **params):
    return ScriptedCredential(dict(params, answers=answers, tenant_id="tenant-1", client_id="client-1"))


def test_provider_builds_the_strategy_app_with_its_settings_and_retries_with_a_fresh_one():
    credential = scripted(ConnectionError("reset"), {"error": "temporarily_unavailable"}, {"access_token": "t-1"})
    tokens = provider(credential, "session", timeout=7)
    assert tokens.get_token(SCOPE) == "t-1"
    assert credential.asked == [SCOPE] * 3
    assert [app._replace(http_cache=None) for app in credential.apps] == [
        AppSettings("https://login.example/tenant-1", "session", 7, False)] * 3
    assert len({id(app.http_cache) for app in credential.apps}) == 1  # one metadata cache for the provider's apps
    assert tokens.requests_made == 3
    assert tokens.get_token(SCOPE) == "t-1" and tokens.requests_made == 3  # memoised


def test_provider_takes_the_strategy_cached_token_without_an_app():
    credential = scripted(cached="from-cache")
    assert provider(credential, None).get_token(SCOPE) == "from-cache"
    assert credential.apps == [] and credential.asked == []


def test_forced_refresh_removes_the_strategy_entries(tmp_path):
    credential = scripted({"access_token": "t-1"}, {"access_token": "t-2"})
    tokens = provider(credential, None)
    assert tokens.get_token(SCOPE) == "t-1"
    cache = tokens._token_cache()  # pylint: disable=protected-access
    cache.add({"client_id": "client-1", "scope": [SCOPE], "token_endpoint": "https://login.example/t/token",
               "response": {"access_token": "old", "expires_in": 3600, "token_type": "Bearer"}})
    credential.entries = list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN))
    assert len(credential.entries) == 1
    assert tokens.get_token(SCOPE, force_refresh=True) == "t-2"
    assert list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)) == []


@pytest.mark.parametrize("answers", [[ValueError("x")], [TypeError("x")]])
def test_strategy_names_its_own_unusable_credential(answers):
    with pytest.raises(AuthError, match=r"scripted credential is unusable \((ValueError|TypeError)\)"):
        provider(scripted(*answers), None).get_token(SCOPE)


def test_refusal_is_mapped_once_for_every_strategy():
    credential = scripted({"error": "invalid_client", "error_description": "AADSTS700016: not found\ntrace",
                           "correlation_id": "c-1"})
    with pytest.raises(AuthError) as caught:
        provider(credential, None).get_token(SCOPE)
    assert caught.value.message == (
        "Entra ID refused a token for %s with client client-1 (invalid_client): AADSTS700016: not found Fix: the "
        "application was not found in the tenant: check client_id and tenant_id." % SCOPE)
    assert credential.asked == [SCOPE]  # not transient: no retry


class Renamed(ManagedIdentityCredential):
    name = "renamed_identity"


def test_behaviour_follows_the_class_not_the_name(monkeypatch, tmp_path):
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header")
    monkeypatch.setitem(STRATEGIES, Renamed.name, Renamed)
    store = FileTokenCache(str(tmp_path), "renamed")
    http = FakeManagedIdentityHttp()
    tokens = provider(select_credential({"auth_method": "renamed_identity"}), http, store)
    assert tokens.get_token(SCOPE) == "mi-1"
    assert http.gets[0]["resource"] == "https://graph.microsoft.com"  # a resource, as a managed identity asks
    assert tokens.get_token(SCOPE, force_refresh=True) == "mi-2"
    with open(store.path, encoding="utf-8") as handle:
        assert [at["secret"] for at in json.load(handle)["AccessToken"].values()] == ["mi-2"]


# -- each strategy's own application and request ------------------------------------------


def test_client_secret_app_and_request():
    credential = select_credential({"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": SECRET})
    assert isinstance(credential, ClientSecretCredential)
    http = FakeIdentityHttp()
    app = credential.new_app(msal.SerializableTokenCache(), SETTINGS._replace(http_client=http))
    assert isinstance(app, msal.ConfidentialClientApplication) and app.client_id == "client-1"
    assert credential.acquire(app, SCOPE)["access_token"] == "at-1"
    post = http.token_posts[0]
    assert post["url"] == "https://login.example/tenant-1/oauth2/v2.0/token"
    assert post["data"]["grant_type"] == "client_credentials" and post["data"]["scope"] == SCOPE
    assert post["data"]["client_secret"] == SECRET


def rsa_pem(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d365-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = tmp_path / "client.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    return str(path), cert.fingerprint(hashes.SHA256())


def test_certificate_app_signs_an_assertion(tmp_path):
    path, thumbprint = rsa_pem(tmp_path)
    credential = select_credential({"tenant_id": "tenant-1", "client_id": "client-1", "client_certificate_path": path})
    assert isinstance(credential, CertificateCredential)
    assert credential.fingerprint() == thumbprint.hex()[:16]
    http = FakeIdentityHttp()
    app = credential.new_app(msal.SerializableTokenCache(), SETTINGS._replace(http_client=http))
    assert isinstance(app, msal.ConfidentialClientApplication)
    assert credential.acquire(app, SCOPE)["access_token"] == "at-1"
    sent = http.token_posts[0]["data"]
    assert "client_secret" not in sent and sent["scope"] == SCOPE
    assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header = json.loads(base64.urlsafe_b64decode(sent["client_assertion"].split(b".")[0] + b"=="))
    assert base64.urlsafe_b64decode(header["x5t#S256"] + "==") == thumbprint  # computed, never configured


def test_certificate_names_its_unusable_key(tmp_path):
    path = tmp_path / "bad.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"
                    "-----BEGIN CERTIFICATE-----\nZA==\n-----END CERTIFICATE-----\n")
    credential = select_credential({"tenant_id": "tenant-1", "client_id": "client-1",
                                    "client_certificate_path": str(path)})
    with pytest.raises(AuthError, match=r"The private key in .*bad.pem cannot be used \(ValueError\): check "
                                        r"client_certificate_password\.$"):
        provider(credential, FakeIdentityHttp()).get_token(SCOPE)


@pytest.mark.parametrize("client_id", [None, "uami-1"])
def test_managed_identity_app_asks_for_a_resource(monkeypatch, client_id):
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header")
    credential = select_credential({"auth_method": "managed_identity", "client_id": client_id})
    http = FakeManagedIdentityHttp()
    cache = msal.SerializableTokenCache()
    app = credential.new_app(cache, SETTINGS._replace(http_client=http))
    assert isinstance(app, msal.ManagedIdentityClient)
    assert credential.acquire(app, SCOPE)["access_token"] == "mi-1"
    assert http.gets[0]["resource"] == "https://graph.microsoft.com"
    assert http.gets[0].get("client_id") == client_id
    assert len(credential.cached_entries(cache, SCOPE)) == 1
    # Found without a client, as msal's client would (5 minutes left), so no acquisition lock is needed for it.
    assert credential.cached_token(cache, SCOPE) == "mi-1"
    for entry in credential.cached_entries(cache, SCOPE):
        cache.modify(msal.TokenCache.CredentialType.ACCESS_TOKEN, entry,
                     {"expires_on": str(int(time.time()) + EXPIRY_MARGIN - 10)})
    assert credential.cached_token(cache, SCOPE) is None


def test_confidential_cached_token_honours_the_expiry_margin():
    credential = select_credential({"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": SECRET})
    cache = msal.SerializableTokenCache()

    def add(token, expires_in, client_id="client-1", scope=SCOPE):
        cache.add({"client_id": client_id, "scope": [scope], "token_endpoint": "https://login.example/t/token",
                   "response": {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}})

    add("too-old", EXPIRY_MARGIN - 10)
    assert credential.cached_token(cache, SCOPE) is None
    add("other-client", 3600, client_id="client-2")
    add("other-scope", 3600, scope="https://other/.default")
    assert credential.cached_token(cache, SCOPE) is None
    add("fresh", 3600)
    assert credential.cached_token(cache, SCOPE) == "fresh"


def test_cache_keys_of_earlier_releases_still_hit(tmp_path, monkeypatch):
    """Keys computed by 0.2.0 (before the strategies split): an existing cache file keeps being used."""
    monkeypatch.setenv("D365_TOKEN_CACHE_DIR", str(tmp_path))
    pem = tmp_path / "c.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"
                   "-----BEGIN CERTIFICATE-----\nZDM2NS1pZGVudGl0eQ==\n-----END CERTIFICATE-----\n")
    expected = {
        "53fac99390579720993589475528c22f": {"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": SECRET},
        "8d61ed015dab45ebb4afc0085844bf8f": {"tenant_id": "tenant-1", "client_id": "client-1",
                                             "client_certificate_path": str(pem)},
        "59ba7c2fe277495f56f50af69d5d50e0": {"auth_method": "managed_identity"},
        "cda2edc0461e67d992d2f7aef74a910f": {"auth_method": "managed_identity", "client_id": "uami-1"},
    }
    for key, params in expected.items():
        assert TokenProvider.from_params(params, AUTHORITY_HOST, None).cache_store.key == key

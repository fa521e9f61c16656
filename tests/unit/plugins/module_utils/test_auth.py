# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os
import stat

import pytest
import requests

from ansible_collections.d365.identity.plugins.module_utils import _auth
from ansible_collections.d365.identity.plugins.module_utils._errors import AuthError, ConfigError
from ansible_collections.d365.identity.plugins.module_utils._token_cache import FileTokenCache, cache_key
from ansible_collections.d365.identity.tests.unit.fakes import FakeIdentityHttp, FakeResponse

SECRET = "s3cret-Value~that-must-not-leak"
AUTHORITY_HOST = "https://login.example"
SCOPE = "https://graph.microsoft.com/.default"
PARAMS = {"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": SECRET}


def test_auto_prefers_secret_then_certificate(tmp_path):
    assert _auth.select_credential(dict(PARAMS, client_certificate_path="/x")).name == "client_secret"
    pem = tmp_path / "c.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"
                   "-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n")
    cred = _auth.select_credential({"tenant_id": "t", "client_id": "c", "client_certificate_path": str(pem)})
    assert cred.name == "certificate"
    assert cred.msal_credential()["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert "thumbprint" not in cred.msal_credential()  # msal computes the SHA-256 thumbprint


def test_auto_without_credentials_lists_what_is_missing():
    with pytest.raises(ConfigError) as caught:
        _auth.select_credential({"tenant_id": None, "client_id": "c"})
    text = caught.value.message
    for name in ("client_secret", "AZURE_CLIENT_SECRET", "client_certificate_path", "tenant_id",
                 "AZURE_TENANT_ID", "managed_identity"):
        assert name in text
    assert "client_id (" not in text  # client_id was given


def test_explicit_method_validates_its_options():
    with pytest.raises(ConfigError, match="client_secret needs client_id"):
        _auth.select_credential({"auth_method": "client_secret", "tenant_id": "t", "client_secret": SECRET})


@pytest.mark.parametrize("content, message", [
    ("-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n", "both the private key and the certificate"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----\n"
     "-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n", "client_certificate_password"),
])
def test_certificate_file_checked_before_network(tmp_path, content, message):
    pem = tmp_path / "c.pem"
    pem.write_text(content)
    with pytest.raises(ConfigError, match=message):
        _auth.select_credential({"tenant_id": "t", "client_id": "c", "client_certificate_path": str(pem)})


def test_unreadable_certificate(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        _auth.select_credential({"tenant_id": "t", "client_id": "c",
                                 "client_certificate_path": str(tmp_path / "missing.pem")})


def test_managed_identity_needs_nothing():
    cred = _auth.select_credential({"auth_method": "managed_identity"})
    assert cred.name == "managed_identity"
    assert cred.msal_identity()["ManagedIdentityIdType"] == "SystemAssigned"
    cred = _auth.select_credential({"auth_method": "managed_identity", "client_id": "uami-1"})
    assert cred.msal_identity()["Id"] == "uami-1"


def provider(http, store=None, **kwargs):
    credential = _auth.select_credential(dict(PARAMS))
    return _auth.TokenProvider(credential, AUTHORITY_HOST, http, cache_store=store, instance_discovery=False,
                               sleep=lambda s: None, **kwargs)


def test_token_memoised_in_process():
    http = FakeIdentityHttp()
    tokens = provider(http)
    assert tokens.get_token(SCOPE) == "at-1"
    assert tokens.get_token(SCOPE) == "at-1"
    assert len(http.token_posts) == 1
    assert http.token_posts[0]["data"]["scope"] == SCOPE


def test_token_reused_across_processes_through_private_file(tmp_path):
    store = FileTokenCache(str(tmp_path / "cache"), cache_key(AUTHORITY_HOST, "tenant-1", "client-1"))
    first = FakeIdentityHttp()
    assert provider(first, store).get_token(SCOPE) == "at-1"
    assert stat.S_IMODE(os.stat(store.directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert SECRET not in open(store.path).read()  # only tokens, never the credential

    second = FakeIdentityHttp()
    assert provider(second, store).get_token(SCOPE) == "at-1"
    assert second.token_posts == [] and second.gets == []  # no msal app built at all


def test_cache_disabled_writes_nothing(tmp_path):
    http = FakeIdentityHttp()
    provider(http, None).get_token(SCOPE)
    provider(http, None).get_token(SCOPE)
    assert len(http.token_posts) == 2


def test_cache_dir_reset_to_0700(tmp_path):
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o755)
    FileTokenCache(str(directory), "k").save("{}")
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_cache_key_separates_authority_tenant_client():
    keys = {cache_key("https://a", "t", "c"), cache_key("https://b", "t", "c"),
            cache_key("https://a", "u", "c"), cache_key("https://a", "t", "d")}
    assert len(keys) == 4


def test_force_refresh_gets_a_new_token(tmp_path):
    store = FileTokenCache(str(tmp_path), "k")
    http = FakeIdentityHttp()
    tokens = provider(http, store)
    assert tokens.get_token(SCOPE) == "at-1"
    assert tokens.get_token(SCOPE, force_refresh=True) == "at-2"
    assert provider(FakeIdentityHttp(), store).get_token(SCOPE) == "at-2"  # the revoked one is gone


def test_transient_token_failures_retried_with_fresh_app():
    http = FakeIdentityHttp(token_answers=[requests.ConnectionError("reset"),
                                           FakeResponse(503, {"error": "temporarily_unavailable"})])
    assert provider(http).get_token(SCOPE) == "at-3"
    assert len(http.token_posts) == 3


def test_bad_secret_names_the_fix_without_leaking():
    answer = FakeResponse(401, {"error": "invalid_client", "error_description":
                                "AADSTS7000215: Invalid client secret provided.", "error_codes": [7000215],
                                "correlation_id": "corr-1"})
    http = FakeIdentityHttp(token_answers=[answer])
    with pytest.raises(AuthError) as caught:
        provider(http).get_token(SCOPE)
    error = caught.value
    assert "AZURE_CLIENT_SECRET" in error.message and "client-1" in error.message
    assert error.correlation_id == "corr-1" and error.error == "invalid_client"
    assert SECRET not in error.message and SECRET not in repr(error.to_result())
    assert len(http.token_posts) == 1  # not transient: no retry


def test_unreachable_authority_gives_up_with_hint():
    http = FakeIdentityHttp(token_answers=[requests.ConnectionError("x")] * 10)
    with pytest.raises(AuthError, match="REQUESTS_CA_BUNDLE"):
        provider(http, max_retries=2).get_token(SCOPE)
    assert len(http.token_posts) == 3


def test_unwritable_cache_dir_does_not_fail_the_task(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the cache directory should be: makedirs fails
    store = FileTokenCache(str(blocker / "cache"), "k")
    http = FakeIdentityHttp()
    tokens = provider(http, store)
    assert tokens.get_token(SCOPE) == "at-1"
    assert tokens.get_token("https://other.example/.default") == "at-2"
    assert tokens.cache_store is None

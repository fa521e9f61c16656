# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import datetime
import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
import time
import traceback

import pytest

from ansible_collections.d365.identity.plugins.module_utils._auth import credentials as _credentials
from ansible_collections.d365.identity.plugins.module_utils._auth import provider as _auth
from ansible_collections.d365.identity.plugins.module_utils._auth import token_cache as _token_cache
from ansible_collections.d365.identity.plugins.module_utils._errors import (
    ApiError, AuthError, ConfigError, TransportError)
from ansible_collections.d365.identity.plugins.module_utils._transport.http import ApiClient, new_session, scrub_queries
from ansible_collections.d365.identity.plugins.module_utils._transport.session import TransportFailure
from ansible_collections.d365.identity.plugins.module_utils._auth.token_cache import FileTokenCache, cache_key, fingerprint
from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, FakeSession
from ansible_collections.d365.identity.tests.unit.fakes.identity import FakeIdentityHttp, FakeManagedIdentityHttp

SECRET = "s3cret-Value~that-must-not-leak"
AUTHORITY_HOST = "https://login.example"
SCOPE = "https://graph.microsoft.com/.default"
PARAMS = {"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": SECRET}


def test_auto_prefers_secret_then_certificate(tmp_path):
    assert _credentials.select_credential(dict(PARAMS, client_certificate_path="/x")).name == "client_secret"
    pem = tmp_path / "c.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"
                   "-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n")
    cred = _credentials.select_credential({"tenant_id": "t", "client_id": "c", "client_certificate_path": str(pem)})
    assert cred.name == "certificate"
    assert cred.msal_credential()["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert "thumbprint" not in cred.msal_credential()  # msal computes the SHA-256 thumbprint


def test_auto_without_credentials_lists_what_is_missing():
    with pytest.raises(ConfigError) as caught:
        _credentials.select_credential({"tenant_id": None, "client_id": "c"})
    text = caught.value.message
    for name in ("client_secret", "AZURE_CLIENT_SECRET", "client_certificate_path", "tenant_id",
                 "AZURE_TENANT_ID", "managed_identity"):
        assert name in text
    assert "client_id (" not in text  # client_id was given


def test_explicit_method_validates_its_options():
    with pytest.raises(ConfigError, match="client_secret needs client_id"):
        _credentials.select_credential({"auth_method": "client_secret", "tenant_id": "t", "client_secret": SECRET})


@pytest.mark.parametrize("content, message", [
    ("-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n", "both the private key and the certificate"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----\n"
     "-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n", "client_certificate_password"),
])
def test_certificate_file_checked_before_network(tmp_path, content, message):
    pem = tmp_path / "c.pem"
    pem.write_text(content)
    with pytest.raises(ConfigError, match=message):
        _credentials.select_credential({"tenant_id": "t", "client_id": "c", "client_certificate_path": str(pem)})


def test_unreadable_certificate(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        _credentials.select_credential({"tenant_id": "t", "client_id": "c",
                                        "client_certificate_path": str(tmp_path / "missing.pem")})


def test_managed_identity_needs_nothing():
    cred = _credentials.select_credential({"auth_method": "managed_identity"})
    assert cred.name == "managed_identity"
    assert cred.msal_identity()["ManagedIdentityIdType"] == "SystemAssigned"
    cred = _credentials.select_credential({"auth_method": "managed_identity", "client_id": "uami-1"})
    assert cred.msal_identity()["Id"] == "uami-1"


def provider(http, store=None, **kwargs):
    credential = _credentials.select_credential(dict(PARAMS))
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
    store = FileTokenCache(str(tmp_path / "cache"), cache_key(AUTHORITY_HOST, "tenant-1", "client-1", fingerprint(SECRET)))
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


def test_user_cache_dir_keeps_its_mode(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(directory, 0o755)
    monkeypatch.setenv("D365_TOKEN_CACHE_DIR", str(directory))
    tokens = _auth.TokenProvider.from_params(dict(PARAMS), AUTHORITY_HOST, FakeIdentityHttp(), instance_discovery=False)
    assert tokens.get_token(SCOPE) == "at-1"
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tokens.cache_store.path).st_mode) == 0o600


def from_params(params, http):
    return _auth.TokenProvider.from_params(params, AUTHORITY_HOST, http, instance_discovery=False)


def test_changed_secret_does_not_reuse_cached_token(tmp_path, monkeypatch):
    monkeypatch.setenv("D365_TOKEN_CACHE_DIR", str(tmp_path))
    assert from_params(dict(PARAMS), FakeIdentityHttp()).get_token(SCOPE) == "at-1"
    same = FakeIdentityHttp()
    from_params(dict(PARAMS), same).get_token(SCOPE)
    assert same.token_posts == []  # same secret: cached token reused
    wrong = FakeIdentityHttp(token_answers=[FakeResponse(401, {
        "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})])
    with pytest.raises(AuthError, match="AZURE_CLIENT_SECRET"):
        from_params(dict(PARAMS, client_secret="a-wrong-or-revoked-secret"), wrong).get_token(SCOPE)
    assert len(wrong.token_posts) == 1  # asked Entra instead of "working" from the cache


def test_cache_files_never_hold_the_secret_or_its_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setenv("D365_TOKEN_CACHE_DIR", str(tmp_path))
    from_params(dict(PARAMS), FakeIdentityHttp()).get_token(SCOPE)
    for name in os.listdir(tmp_path):
        assert SECRET not in name and fingerprint(SECRET) not in name
        assert SECRET not in (tmp_path / name).read_text()
        assert fingerprint(SECRET) not in (tmp_path / name).read_text()


def test_cache_key_follows_the_credential(tmp_path):
    keys = {}
    for label, params in (("secret", PARAMS), ("other secret", dict(PARAMS, client_secret="other")),
                          ("system mi", {"auth_method": "managed_identity"}),
                          ("user mi", {"auth_method": "managed_identity", "client_id": "uami-1"})):
        keys[label] = from_params(dict(params), FakeIdentityHttp()).cache_store.key
    first, second = write_certificates(tmp_path)
    for label, path in (("cert", first), ("cert again", first), ("renewed cert", second)):
        keys[label] = from_params({"tenant_id": "tenant-1", "client_id": "client-1", "client_certificate_path": path},
                                  FakeIdentityHttp()).cache_store.key
    assert keys.pop("cert again") == keys["cert"]
    assert len(set(keys.values())) == len(keys)


# -- certificates in other formats ---------------------------------------------------------


def certificate_and_key(name="d365-test"):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert, key


def write_certificates(tmp_path):
    from cryptography.hazmat.primitives import serialization

    paths = []
    for index in range(2):
        cert, key = certificate_and_key()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)
        path = tmp_path / ("client%d.pem" % index)
        path.write_bytes(pem)
        paths.append(str(path))
    return paths


def binary_files(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    cert, key = certificate_and_key()
    files = {
        "pfx": pkcs12.serialize_key_and_certificates(b"d365", key, cert, None,
                                                     serialization.BestAvailableEncryption(b"pw")),
        "der_cert": cert.public_bytes(serialization.Encoding.DER),
        "der_key": key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()),
    }
    return {name: tmp_path / ("client.%s" % name.replace("_", ".")) for name in files}, files


@pytest.mark.parametrize("kind, command", [
    ("pfx", "openssl pkcs12 -in %s -out client.pem -nodes"),
    ("der_cert", "openssl x509 -inform der -in %s -out cert.pem"),
    ("der_key", "openssl pkey -inform der -in %s -out key.pem"),
])
@pytest.mark.parametrize("renamed", [False, True])
def test_binary_certificate_formats_name_the_conversion(tmp_path, kind, command, renamed):
    paths, contents = binary_files(tmp_path)
    path = tmp_path / "client.bin" if renamed else paths[kind]  # detected by content, not by name
    path.write_bytes(contents[kind])
    with pytest.raises(ConfigError) as caught:
        _credentials.select_credential({"tenant_id": "t", "client_id": "c", "client_certificate_path": str(path),
                                        "client_certificate_password": "pw"})
    assert command % path in caught.value.message
    assert "pw" not in caught.value.message.replace(str(path), "")


# -- managed identity ---------------------------------------------------------------------


def mi_provider(http, store, client_id=None):
    credential = _credentials.select_credential({"auth_method": "managed_identity", "client_id": client_id})
    return _auth.TokenProvider(credential, AUTHORITY_HOST, http, cache_store=store, instance_discovery=False,
                               sleep=lambda s: None)


@pytest.mark.parametrize("client_id", [None, "uami-1"])
def test_managed_identity_refresh_after_401_drops_the_revoked_token(tmp_path, monkeypatch, client_id):
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header")
    store = FileTokenCache(str(tmp_path), "mi")
    http = FakeManagedIdentityHttp()
    tokens = mi_provider(http, store, client_id)
    assert tokens.get_token(SCOPE) == "mi-1"
    assert http.gets[0]["resource"] == "https://graph.microsoft.com"  # a resource, not a scope
    assert tokens.get_token(SCOPE, force_refresh=True) == "mi-2"
    assert len(http.gets) == 2
    later = FakeManagedIdentityHttp()
    assert mi_provider(later, store, client_id).get_token(SCOPE) == "mi-2"  # the revoked one is gone from the file
    assert later.gets == []
    with open(store.path, encoding="utf-8") as handle:
        assert [at["secret"] for at in json.load(handle)["AccessToken"].values()] == ["mi-2"]


# -- no query strings in error text or tracebacks ----------------------------------------


QUERY_URL = "https://api.example/prefix/users?$filter=mail%20eq%20'jane@contoso.com'&$skiptoken=X2FiYw"
REQUESTS_TEXT = ("HTTPSConnectionPool(host='api.example', port=443): Max retries exceeded with url: "
                 "/prefix/users?$filter=mail%20eq%20'jane@contoso.com'&$skiptoken=X2FiYw "
                 "(Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] refused'))")


def failure(call):
    """(error, traceback text) as fail_from_error reports them."""
    try:
        call()
    except (ApiError, AuthError, TransportError) as error:
        return error, traceback.format_exc()
    raise AssertionError("no error raised")


def assert_no_query(*texts):
    for text in texts:
        assert "skiptoken" not in text and "jane@contoso.com" not in text, text


def api(script, **kwargs):
    session = FakeSession(script)
    client = ApiClient("https://api.example/prefix", "https://api.example/.default", FakeTokens(), session,
                       sleep=lambda s: None, **kwargs)
    return client, session


class FakeTokens:
    def get_token(self, scope, force_refresh=False):
        return "token"


def test_scrub_queries_keeps_the_path():
    assert scrub_queries("GET " + QUERY_URL + " failed") == "GET https://api.example/prefix/users?... failed"
    assert scrub_queries(REQUESTS_TEXT).startswith("HTTPSConnectionPool(host='api.example', port=443): Max retries "
                                                   "exceeded with url: /prefix/users?... (Caused by")
    assert scrub_queries("Is it there? Yes.") == "Is it there? Yes."


def refused_port():
    """A local port nothing listens on (bound, then closed)."""
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_refused_connection_traceback_has_no_query(method):
    base = "https://127.0.0.1:%d/prefix" % refused_port()
    client = ApiClient(base, "https://api.example/.default", FakeTokens(), new_session(), sleep=lambda s: None,
                       max_retries=0)
    url = base + QUERY_URL.split("/prefix", 1)[1]
    error, text = failure(lambda: client.request(method, url, json_body={} if method == "POST" else None))
    assert_no_query(error.message, text, str(error.url))
    assert "/prefix/users" in error.message and "ConnectionRefusedError" in error.message
    assert ("may or may not have been applied" in error.message) == (method == "POST")


def test_service_message_echoing_the_url_is_scrubbed():
    body = {"error": {"code": "BadRequest", "message": "Invalid request " + QUERY_URL}}
    client, session = api([FakeResponse(400, body)])
    error, text = failure(lambda: client.get(QUERY_URL))
    assert_no_query(error.message, text, str(error.url), error.service_message)
    assert "BadRequest" in error.message


def test_token_request_failure_traceback_has_no_request_data():
    class Broken(FakeIdentityHttp):
        def post(self, url, params=None, data=None, headers=None, **kwargs):
            raise ValueError("bad answer for %s?client_secret=%s" % (url, SECRET))

    error, text = failure(lambda: provider(Broken()).get_token(SCOPE))
    assert "ValueError" in error.message
    assert SECRET not in text and "client_secret=" not in text


def test_force_refresh_gets_a_new_token(tmp_path):
    store = FileTokenCache(str(tmp_path), "k")
    http = FakeIdentityHttp()
    tokens = provider(http, store)
    assert tokens.get_token(SCOPE) == "at-1"
    assert tokens.get_token(SCOPE, force_refresh=True) == "at-2"
    assert provider(FakeIdentityHttp(), store).get_token(SCOPE) == "at-2"  # the revoked one is gone


def test_transient_token_failures_retried_with_fresh_app():
    http = FakeIdentityHttp(token_answers=[TransportFailure("ConnectionResetError"),
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
    http = FakeIdentityHttp(token_answers=[TransportFailure("SSLCertVerificationError")] * 10)
    with pytest.raises(AuthError, match="SSLCertVerificationError reaching .*REQUESTS_CA_BUNDLE"):
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


# -- parallel processes share one token request -----------------------------------------------------


class SlowIdentityHttp(FakeIdentityHttp):
    """A token endpoint that takes its time, so that every caller misses the cache while it answers."""

    def __init__(self, delay=0.3, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        time.sleep(self.delay)
        return super().post(url, params=params, data=data, headers=headers, **kwargs)

    def discovery(self):
        return [url for url in self.gets if url.endswith("/.well-known/openid-configuration")]


def store_in(directory):
    return FileTokenCache(str(directory), cache_key(AUTHORITY_HOST, "tenant-1", "client-1", fingerprint(SECRET)))


def in_threads(count, call):
    """call(index) in count threads released at once; their results in order."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        barrier.wait()
        results[index] = call(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("count", [2, 5])
def test_parallel_cold_providers_make_one_token_request(tmp_path, count):
    http = SlowIdentityHttp()  # one token endpoint for all, counting every request
    tokens = [provider(http, store_in(tmp_path)) for dummy in range(count)]  # each its own file handle, as forks
    assert in_threads(count, lambda index: tokens[index].get_token(SCOPE)) == ["at-1"] * count
    assert len(http.token_posts) == 1
    assert len(http.discovery()) == 1  # only the one that asked built an msal application
    assert sorted(t.requests_made for t in tokens) == [0] * (count - 1) + [1]


def test_parallel_cold_managed_identities_make_one_token_request(tmp_path, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header")

    class Slow(FakeManagedIdentityHttp):
        def get(self, url, params=None, headers=None, **kwargs):
            time.sleep(0.3)
            return super().get(url, params=params, headers=headers, **kwargs)

    http = Slow()
    tokens = [mi_provider(http, FileTokenCache(str(tmp_path), "mi")) for dummy in range(3)]
    assert in_threads(3, lambda index: tokens[index].get_token(SCOPE)) == ["mi-1"] * 3
    assert len(http.gets) == 1


ASKING_CHILD = """
import sys, time
from ansible_collections.d365.identity.plugins.module_utils._auth import credentials, provider, token_cache
from ansible_collections.d365.identity.tests.unit.fakes.identity import FakeIdentityHttp

class Http(FakeIdentityHttp):
    def post(self, *args, **kwargs):
        print("asking", flush=True)  # holding the acquisition lock now
        if sys.argv[3] == "die":
            time.sleep(120)  # killed while asking
        time.sleep(1.0)
        return super().post(*args, **kwargs)

credential = credentials.select_credential({"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": sys.argv[2]})
store = token_cache.FileTokenCache(sys.argv[1], token_cache.cache_key("https://login.example", "tenant-1", "client-1",
                                                                      token_cache.fingerprint(sys.argv[2])))
tokens = provider.TokenProvider(credential, "https://login.example", Http(), cache_store=store,
                                instance_discovery=False)
print(tokens.get_token("https://graph.microsoft.com/.default").replace("at-", "child-"), flush=True)
"""


def asking_child(directory, mode_="finish"):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(os.path.join(os.path.dirname(_auth.__file__), *[".."] * 6)))
    process = subprocess.Popen([sys.executable, "-c", ASKING_CHILD, str(directory), SECRET, mode_], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "asking", process.stderr.read()
    return process


def lock_waits(monkeypatch):
    """What each wait for an acquisition lock ended with: True = got it, False = gave up (deadline)."""
    outcomes, real = [], _token_cache._wait_for_lock

    def spy(fd, deadline):
        outcomes.append(real(fd, deadline))
        return outcomes[-1]
    monkeypatch.setattr(_token_cache, "_wait_for_lock", spy)
    return outcomes


def test_a_process_waiting_on_the_lock_takes_the_token_the_holder_saved(tmp_path, monkeypatch):
    child = asking_child(tmp_path)  # asks Entra while holding the lock; saves, then lets go
    http = FakeIdentityHttp()
    waits = lock_waits(monkeypatch)
    assert provider(http, store_in(tmp_path)).get_token(SCOPE) == "at-1"  # the child's token, from the file
    assert waits[0] is True  # the acquisition lock: waited for the holder and got it, not the deadline
    assert http.token_posts == [] and http.gets == []  # no request at all, not even OpenID metadata
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.strip() == "child-1"


def test_a_killed_holder_does_not_hold_up_the_others(tmp_path, monkeypatch):
    child = asking_child(tmp_path, "die")
    child.kill()  # SIGKILL while asking: nothing saved, the kernel drops its flock
    child.wait(timeout=60)
    http = FakeIdentityHttp()
    waits = lock_waits(monkeypatch)
    assert provider(http, store_in(tmp_path)).get_token(SCOPE) == "at-1"
    assert waits[0] is True  # the acquisition lock was free again: no waiting out the deadline
    assert len(http.token_posts) == 1


def test_a_stuck_holder_is_waited_for_until_the_deadline_then_we_ask(tmp_path, monkeypatch):
    monkeypatch.setattr(_token_cache, "ACQUIRE_WAIT", 0.5)
    store = store_in(tmp_path)
    os.makedirs(store.directory, exist_ok=True)
    with open(store.acquire_lock_path(SCOPE), "a+", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # alive, never lets go
        http = FakeIdentityHttp()
        waits = lock_waits(monkeypatch)
        assert provider(http, store).get_token(SCOPE) == "at-1"
        assert waits[0] is False  # the acquisition lock: deadline passed, it asked on its own instead of hanging
        assert len(http.token_posts) == 1
    assert provider(FakeIdentityHttp(), store_in(tmp_path)).get_token(SCOPE) == "at-1"  # and it was saved


def issued(token):
    return FakeResponse(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})


def test_forced_refreshes_after_the_same_401_share_one_new_token(tmp_path):
    assert provider(FakeIdentityHttp(token_answers=[issued("old")]), store_in(tmp_path)).get_token(SCOPE) == "old"
    first, second = FakeIdentityHttp(token_answers=[issued("new")]), FakeIdentityHttp(token_answers=[issued("newer")])
    one, two = provider(first, store_in(tmp_path)), provider(second, store_in(tmp_path))
    assert one.get_token(SCOPE) == "old" and two.get_token(SCOPE) == "old"  # both from the file
    assert one.get_token(SCOPE, force_refresh=True) == "new"  # "old" refused: one new token
    assert two.get_token(SCOPE, force_refresh=True) == "new"  # "old" refused here too: the new one, no request
    assert second.token_posts == []
    assert two.get_token(SCOPE, force_refresh=True) == "newer"  # "new" refused as well: now it asks
    assert len(second.token_posts) == 1
    with open(store_in(tmp_path).path, encoding="utf-8") as handle:
        assert [at["secret"] for at in json.load(handle)["AccessToken"].values()] == ["newer"]


def test_openid_metadata_fetched_once_per_provider(tmp_path):
    http = SlowIdentityHttp(delay=0, token_answers=[FakeResponse(503, {"error": "temporarily_unavailable"})])
    tokens = provider(http, store_in(tmp_path))
    assert tokens.get_token(SCOPE) == "at-2"  # a retry: a new application, which asks again (no replayed 503)
    assert tokens.get_token("https://org.crm.dynamics.com/.default") == "at-3"  # another resource, another app
    assert len(http.token_posts) == 3
    assert len(http.discovery()) == 1


def test_metadata_http_cache_keeps_msal_get_answers_only():
    cache = _auth.MetadataHttpCache()
    cache["GET https://login.example/t/v2.0/.well-known/openid-configuration hash=x 2xx"] = "metadata"
    cache["_index_"] = ([], {})
    cache["POST https://login.example/t/oauth2/v2.0/token client_id=c scope=s hash=h 429/5xx/Retry-After"] = "503"
    cache["POST https://login.example/t/oauth2/v2.0/token hash=h 400"] = "400"
    assert sorted(cache) == ["GET https://login.example/t/v2.0/.well-known/openid-configuration hash=x 2xx",
                             "_index_"]


@pytest.mark.parametrize("content", ["[]", "{not json"])
def test_corrupt_cache_file_costs_one_token_request(tmp_path, content):
    store = store_in(tmp_path)
    os.makedirs(store.directory, exist_ok=True)
    with open(os.open(store.path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as handle:
        handle.write(content)
    http = FakeIdentityHttp()
    assert provider(http, store).get_token(SCOPE) == "at-1"
    assert len(http.token_posts) == 1
    assert provider(FakeIdentityHttp(), store_in(tmp_path)).get_token(SCOPE) == "at-1"  # replaced by a good file


def without_msal(monkeypatch):
    def refused():
        raise AssertionError("msal imported although the token was in the cache file")
    monkeypatch.setattr(_auth, "load_msal", refused)
    monkeypatch.setattr(_credentials, "load_msal", refused)


def test_a_token_in_the_cache_file_is_found_without_msal(tmp_path, monkeypatch):
    issuer = FakeIdentityHttp()
    token = provider(issuer, store_in(tmp_path)).get_token(SCOPE)  # real msal files it
    without_msal(monkeypatch)
    later = FakeIdentityHttp()
    assert provider(later, store_in(tmp_path)).get_token(SCOPE) == token
    assert later.token_posts == []


@pytest.mark.parametrize("client_id", [None, "uami-1"])
def test_a_managed_identity_token_in_the_cache_file_is_found_without_msal(tmp_path, monkeypatch, client_id):
    store = store_in(tmp_path)
    assert mi_provider(FakeManagedIdentityHttp(), store, client_id).get_token(SCOPE) == "mi-1"
    without_msal(monkeypatch)
    later = FakeManagedIdentityHttp()
    assert mi_provider(later, store, client_id).get_token(SCOPE) == "mi-1" and later.gets == []


def test_a_token_for_another_scope_or_client_in_the_file_is_not_taken_without_msal(tmp_path):
    store = store_in(tmp_path)
    provider(FakeIdentityHttp(), store).get_token(SCOPE)
    state = json.loads(store.load())
    credential = _credentials.select_credential(dict(PARAMS))
    assert credential.stored_entries(state, "https://other.example/.default") == []
    for entry in state["AccessToken"].values():
        entry["client_id"] = "someone-else"
    assert credential.stored_entries(state, SCOPE) == []
    assert credential.stored_entries({"AccessToken": "not a mapping"}, SCOPE) == []


def test_a_proxy_the_session_cannot_use_fails_the_token_request_at_once(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.corp:3128")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    slept = []
    credential = _credentials.select_credential(dict(PARAMS))
    tokens = _auth.TokenProvider(credential, AUTHORITY_HOST, new_session(), instance_discovery=False,
                                 sleep=slept.append)
    with pytest.raises(ConfigError, match="must be http://"):
        tokens.get_token(SCOPE)
    assert slept == [] and tokens.requests_made == 1  # not taken for a network failure: no retries


def test_a_broken_msal_install_is_named_with_its_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "msal", None)  # import msal raises ImportError, as with requests missing
    with pytest.raises(ConfigError, match=r"required Python library \(msal\).*requirements.txt"):
        _credentials.load_msal()


def test_managed_identity_gets_a_requests_session_for_msal():
    import requests as requests_lib
    settings = _credentials.AppSettings("https://login.example/t", new_session(), 30, False)
    http = _credentials.managed_identity_http(settings)
    assert isinstance(http, requests_lib.Session) and http.headers["User-Agent"] == new_session().headers["User-Agent"]
    stand_in = FakeManagedIdentityHttp()
    assert _credentials.managed_identity_http(settings._replace(http_client=stand_in)) is stand_in


def test_threads_of_one_provider_share_one_token_request(tmp_path):
    http = FakeIdentityHttp()
    tokens = provider(http, store_in(tmp_path))
    assert len(set(in_threads(4, lambda index: tokens.get_token(SCOPE)))) == 1
    assert len(http.token_posts) == 1

# SPDX-License-Identifier: GPL-3.0-or-later
"""Separate processes share one token cache directory, as AWX forks and parallel jobs do.

Six processes (two clients, four resources) acquire tokens at the same moment against the
emulator, which answers slowly so that every process has loaded the cache before any saves.
Afterwards: no token lost, every file private and parseable, no temp file, the user's
directory mode untouched; a second round and a module task reuse the cached tokens.

Then ten processes with the same credential, all missing a cold cache at the same moment and
each wanting the same four resources (Ansible forks of one play): the acquisition lock makes
exactly one token request per resource, for a client secret, a certificate and a managed identity.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time

import pytest
from conftest import COLLECTION_ROOT

IMPORT_ROOT = os.path.abspath(os.path.join(COLLECTION_ROOT, "..", "..", ".."))

# One process = one get_token, configured from the environment as a module is.
CHILD = """
import hashlib, json, os, sys, time
from ansible_collections.d365.identity.plugins.module_utils._auth.provider import TokenProvider
from ansible_collections.d365.identity.plugins.module_utils._transport.http import new_session
from ansible_collections.d365.identity.plugins.module_utils._transport.urls import https_base
scope, start = sys.argv[1], float(sys.argv[2])
params = {"tenant_id": os.environ["AZURE_TENANT_ID"], "client_id": os.environ["AZURE_CLIENT_ID"],
          "client_secret": os.environ.get("AZURE_CLIENT_SECRET"),
          "client_certificate_path": os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH"),
          "auth_method": "auto", "timeout": 30, "max_retries": 6, "token_cache": True}
host = https_base("authority_host", os.environ["AZURE_AUTHORITY_HOST"])
tokens = TokenProvider.from_params(params, host, new_session(), instance_discovery=False)
while time.time() < start:
    time.sleep(0.005)
token = tokens.get_token(scope)
print(json.dumps({"scope": scope, "requests_made": tokens.requests_made, "file": tokens.cache_store.path,
                  "digest": hashlib.sha256(token.encode()).hexdigest()}))
"""


# One process = the four resources of a play, from a rotated start, one get_token each.
FORK = """
import json, os, sys, time
from ansible_collections.d365.identity.plugins.module_utils._auth.provider import TokenProvider
from ansible_collections.d365.identity.plugins.module_utils._transport.http import new_session
from ansible_collections.d365.identity.plugins.module_utils._transport.urls import https_base
method, start, scopes = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
params = {"tenant_id": os.environ["AZURE_TENANT_ID"], "client_id": os.environ.get("AZURE_CLIENT_ID"),
          "client_secret": os.environ.get("AZURE_CLIENT_SECRET"),
          "client_certificate_path": os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH"),
          "auth_method": method, "timeout": 30, "max_retries": 6, "token_cache": True}
host = https_base("authority_host", os.environ["AZURE_AUTHORITY_HOST"])
tokens = TokenProvider.from_params(params, host, new_session(), instance_discovery=False)
while time.time() < start:
    time.sleep(0.005)
made = {}
for scope in scopes:
    before = tokens.requests_made
    tokens.get_token(scope)
    made[scope] = tokens.requests_made - before
print(json.dumps({"made": made}))
"""

FORKS = 10


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def jobs(emulator, cache_dir):
    ep = emulator.endpoints
    main = emulator.client_env(cache_dir)
    main["PYTHONPATH"] = IMPORT_ROOT
    certificate = dict(main, AZURE_CLIENT_ID=ep["certificate_client_id"],
                       AZURE_CLIENT_CERTIFICATE_PATH=ep["client_certificate_path"])
    certificate.pop("AZURE_CLIENT_SECRET")
    scopes = ["https://graph.microsoft.com/.default", "https://service.powerapps.com/.default"]
    scopes += [url.rstrip("/") + "/.default" for url in ep["environments"]]
    return [(main, scope) for scope in scopes] + [(certificate, scope) for scope in scopes[:2]]


def run_round(emulator, cache_dir):
    start = time.time() + 4  # all six have started (imports take ~0.3 s each) before the barrier
    processes = [subprocess.Popen([sys.executable, "-c", CHILD, scope, str(start)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for env, scope in jobs(emulator, cache_dir)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def logins(emulator):
    return [r for r in emulator.control("GET", "/requests") if r["service"] in ("login", "msi")]


def test_parallel_processes_share_the_cache(emulator, tmp_path):
    emulator.control("POST", "/reset")
    # Slow answers: every process loads the empty cache, then all save at about the same time.
    emulator.control("POST", "/scenario", {"knobs": {"latency_ms": 300}})
    cache_dir = tmp_path / "tokens"
    cache_dir.mkdir()
    os.chmod(cache_dir, 0o750)  # the user's choice: must survive
    try:
        first = run_round(emulator, str(cache_dir))
        assert all(r["requests_made"] == 1 for r in first)
        assert len([r for r in logins(emulator) if r["method"] == "POST"]) == 6

        names = sorted(os.listdir(cache_dir))
        assert [n for n in names if not n.endswith((".json", ".lock"))] == []  # no temp file left
        files = {r["file"] for r in first}
        assert sorted(os.path.join(str(cache_dir), n) for n in names if n.endswith(".json")) == sorted(files)
        assert len(files) == 2  # one per client and credential
        assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o750
        cached = {}
        for path in files:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            with open(path, encoding="utf-8") as handle:
                state = json.load(handle)  # parses
            cached[path] = {digest(at["secret"]) for at in state["AccessToken"].values()}
        for result in first:
            assert result["digest"] in cached[result["file"]], "lost update: %s" % result["scope"]
        secret = emulator.endpoints["client_secret"]
        for name in names:
            assert secret not in (cache_dir / name).read_text()

        emulator.control("DELETE", "/requests")
        second = run_round(emulator, str(cache_dir))
        assert all(r["requests_made"] == 0 for r in second)
        assert sorted(r["digest"] for r in second) == sorted(r["digest"] for r in first)
        assert logins(emulator) == []

        # A module task in yet another process finds the Graph token under the same key.
        command = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local",
                   "-i", "localhost,", "-m", "d365.identity.m365_license_info", "-a",
                   "skus=DYN365_ENTERPRISE_PLAN1", "-o"]
        result = subprocess.run(command, env=emulator.client_env(str(cache_dir)), capture_output=True, text=True,
                                timeout=120, check=False)
        assert "SUCCESS" in result.stdout, result.stdout + result.stderr
        assert logins(emulator) == []
        assert secret not in result.stdout + result.stderr
    finally:
        emulator.control("POST", "/reset")


def fork_env(emulator, cache_dir, method):
    return dict(emulator.credential_env(cache_dir, method), PYTHONPATH=IMPORT_ROOT)


def run_forks(emulator, cache_dir, method):
    ep = emulator.endpoints
    scopes = ["https://graph.microsoft.com/.default", "https://service.powerapps.com/.default"]
    scopes += [url.rstrip("/") + "/.default" for url in ep["environments"]]
    env = fork_env(emulator, cache_dir, method)
    start = time.time() + 5  # ten imports on two cores: all are waiting at the barrier before it opens
    processes = [subprocess.Popen([sys.executable, "-c", FORK, method, str(start)] + scopes[i % 4:] + scopes[:i % 4],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(FORKS)]
    made = dict.fromkeys(scopes, 0)
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, out + err
        for scope, count in json.loads(out.strip().splitlines()[-1])["made"].items():
            made[scope] += count
    return made


def request_counts(emulator):
    """(token requests, OpenID discovery requests) in the emulator's log."""
    log = logins(emulator)
    tokens = [r for r in log if (r["service"], r["method"]) in (("login", "POST"), ("msi", "GET"))]
    discovery = [r for r in log if r["service"] == "login" and r["path"].endswith("/.well-known/openid-configuration")]
    return tokens, discovery


@pytest.mark.parametrize("method", ["client_secret", "certificate", "managed_identity"])
def test_parallel_cold_processes_make_one_token_request_per_resource(emulator, tmp_path, method):
    emulator.control("POST", "/reset")
    # Slow answers, so every fork misses the cold cache while the first token request is on the wire.
    emulator.control("POST", "/scenario", {"knobs": {"latency_ms": 300}})
    cache_dir = str(tmp_path / "tokens")
    try:
        made = run_forks(emulator, cache_dir, method)
        tokens, discovery = request_counts(emulator)
        print("%s: %d forks x %d resources, cold cache: %d token requests %s, %d discovery requests"
              % (method, FORKS, len(made), len(tokens), made, len(discovery)))
        assert made == dict.fromkeys(made, 1), made  # one request per resource for the whole run
        assert len(tokens) == len(made)
        if method == "managed_identity":
            assert discovery == []
        else:
            # msal fetches the OpenID metadata once per application it builds; the metadata is shared by the
            # applications of a process, and only processes that request a token build one.
            assert 1 <= len(discovery) <= len(made)
        names = os.listdir(cache_dir)
        assert [n for n in names if not n.endswith((".json", ".lock"))] == []  # no temp file left
        assert len([n for n in names if n.endswith(".json")]) == 1
        for name in names:
            assert stat.S_IMODE(os.stat(os.path.join(cache_dir, name)).st_mode) == 0o600
        secret = emulator.endpoints["client_secret"]
        for name in names:
            assert secret not in open(os.path.join(cache_dir, name), encoding="utf-8").read()

        emulator.control("DELETE", "/requests")
        again = run_forks(emulator, cache_dir, method)  # warm: nobody asks
        assert again == dict.fromkeys(again, 0)
        assert request_counts(emulator) == ([], [])
    finally:
        emulator.control("POST", "/reset")

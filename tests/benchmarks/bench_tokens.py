# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: token requests of parallel processes that share one token cache directory.

1. forks: N processes (default 10) with one credential start at the same moment on a cold cache,
   each asking for the four resources of a play (Graph, admin API, two Dataverse environments,
   from a rotated start), for a client secret, a certificate and a managed identity. Each kind
   runs twice: as shipped, and with the acquisition lock, the re-read under it and the shared OpenID
   metadata switched off inside the children (the behaviour before them: every process that misses asks).
2. fleet: the role d365.identity.non_interactive_user for U users (default 20) x 2 environments in
   one ansible-playbook run with forks F (default 10) on a cold token cache, against the
   acceptance "<= 2 token requests per resource for the whole run".

Token requests per resource are counted in the emulator's request log (the emulator runs from
this script with the requested resource written into its log entries for token POSTs); discovery
requests are the GETs of the OpenID metadata. 300 ms latency (forks) or 50 ms (fleet) per request.
PASS/FAIL printed, never asserted. Not a test.

    cd <built tree> && PYTHONPATH=<build root> python tests/benchmarks/bench_tokens.py [--forks 10]
        [--users 20] [--fleet-forks 10] [--skip-forks] [--skip-fleet]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from unittest import mock
from urllib.parse import parse_qs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)
IMPORT_ROOT = os.path.abspath(os.path.join(ROOT, "..", "..", ".."))

from tests.emulator import process as emulator_process  # noqa: E402  pylint: disable=wrong-import-position

TARGET_PER_RESOURCE = 2  # acceptance for the fleet run
METHODS = ("client_secret", "certificate", "managed_identity")
GROUPS = ["Dynamics Prod Users"]  # contoso-prod's security group in the default scenario
ROLE_TIMING = {"non_interactive_user_sync_delay": 1, "non_interactive_user_sync_retries": 60,
               "non_interactive_user_disable_watch_seconds": 2, "non_interactive_user_disable_watch_interval": 1}
ROLE_PLAYBOOK = """- name: Fleet
  hosts: fleet
  gather_facts: false
  roles:
    - role: d365.identity.non_interactive_user
"""

# One fork: get_token for each scope, as the tasks of a play would (one process here, for counting).
FORK = """
import contextlib, json, os, sys, time
from ansible_collections.d365.identity.plugins.module_utils._auth import provider, token_cache
from ansible_collections.d365.identity.plugins.module_utils._transport.http import new_session
from ansible_collections.d365.identity.plugins.module_utils._transport.urls import https_base
method, shared, start, scopes = sys.argv[1], sys.argv[2] == "shared", float(sys.argv[3]), sys.argv[4:]
if not shared:  # as before the acquisition lock: no lock, no re-read of the file, no shared metadata
    token_cache.FileTokenCache.acquiring = lambda self, scope: contextlib.nullcontext(False)
    provider.TokenProvider._reload = provider.TokenProvider._token_cache
    provider.MetadataHttpCache = lambda: None
params = {"tenant_id": os.environ["AZURE_TENANT_ID"], "client_id": os.environ.get("AZURE_CLIENT_ID"),
          "client_secret": os.environ.get("AZURE_CLIENT_SECRET"),
          "client_certificate_path": os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH"),
          "auth_method": method, "timeout": 30, "max_retries": 6, "token_cache": True}
host = https_base("authority_host", os.environ["AZURE_AUTHORITY_HOST"])
tokens = provider.TokenProvider.from_params(params, host, new_session(), instance_discovery=False)
while time.time() < start:
    time.sleep(0.005)
for scope in scopes:
    tokens.get_token(scope)
print(json.dumps({"seconds": time.time() - start}))
"""


# -- the emulator, with the resource of each token request in its log ----------------------------


def install_resource_log():
    """Patch the emulator (unchanged on disk): a token POST's log entry names the resource asked for."""
    from tests.emulator import login  # pylint: disable=import-outside-toplevel

    original = login.token

    def token(server, req, tid, tenant_in_path):
        try:
            return original(server, req, tid, tenant_in_path)
        finally:
            scope = req.form().get("scope", "")
            req.audience = scope[:-len("/.default")] if scope.endswith("/.default") else scope

    login.token = token


def start_emulator(state_dir, scenario=None):
    popen = emulator_process.subprocess.Popen

    def serve_from_here(command, *args, **kwargs):
        index = command.index("-m")
        return popen(command[:index] + [os.path.abspath(__file__)] + command[index + 2:], *args, **kwargs)

    with mock.patch.object(emulator_process.subprocess, "Popen", serve_from_here):
        return emulator_process.EmulatorProcess(state_dir, scenario=scenario)


def token_requests(log):
    """{resource: count} of token requests (login POSTs and managed identity GETs)."""
    counts = collections.Counter()
    for entry in log:
        if entry["service"] == "login" and entry["method"] == "POST" and entry["audience"]:
            counts[entry["audience"].rstrip("/")] += 1
        elif entry["service"] == "msi":
            counts[parse_qs(entry["query"] or "").get("resource", ["?"])[0].rstrip("/")] += 1
    return dict(counts)


def discovery_requests(log):
    return len([e for e in log if e["service"] == "login" and e["path"].endswith("/.well-known/openid-configuration")])


# -- 1. forks ---------------------------------------------------------------------------------------


def fork_env(emulator, cache_dir, method):
    return dict(emulator.credential_env(cache_dir, method), PYTHONPATH=IMPORT_ROOT)


def run_forks(emulator, work, method, shared, forks):
    ep = emulator.endpoints
    scopes = ["https://graph.microsoft.com/.default", "https://service.powerapps.com/.default"]
    scopes += [url.rstrip("/") + "/.default" for url in ep["environments"]]
    emulator.control("POST", "/reset")
    emulator.control("POST", "/scenario", {"knobs": {"latency_ms": 300}})
    env = fork_env(emulator, tempfile.mkdtemp(prefix="tokens-", dir=work), method)
    start = time.time() + 2 + 0.4 * forks  # every child is at the barrier before it opens
    children = [subprocess.Popen([sys.executable, "-c", FORK, method, "shared" if shared else "each", str(start)]
                                 + scopes[i % len(scopes):] + scopes[:i % len(scopes)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(forks)]
    seconds = []
    for child in children:
        out, err = child.communicate(timeout=300)
        if child.returncode:
            sys.exit("fork failed (rc %d): %s" % (child.returncode, err[-2000:]))
        seconds.append(json.loads(out.strip().splitlines()[-1])["seconds"])
    log = [e for e in emulator.control("GET", "/requests") if e["service"] in ("login", "msi")]
    return {"tokens": token_requests(log), "discovery": discovery_requests(log), "slowest": max(seconds)}


def bench_forks(emulator, work, forks):
    print("forks: %d processes x 4 resources, cold cache, 300 ms per request" % forks)
    print("  %-17s %-9s %-34s %9s %8s" % ("credential", "sharing", "token requests per resource", "discovery",
                                          "slowest"))
    for method in METHODS:
        for shared in (False, True):
            result = run_forks(emulator, work, method, shared, forks)
            per = sorted(result["tokens"].values())
            print("  %-17s %-9s %-34s %9d %7.1fs" % (
                method, "lock" if shared else "off", "%d total, %s" % (sum(per), "/".join(map(str, per))),
                result["discovery"], result["slowest"]))


# -- 2. fleet ---------------------------------------------------------------------------------------


def fleet_scenario(work, users):
    """The default tenant with seats and non-interactive slots for the whole fleet."""
    from tests.emulator import scenario  # pylint: disable=import-outside-toplevel

    spec = scenario.load_file(scenario.DEFAULT_SCENARIO)
    for sku in spec["skus"]:
        sku["seats"] = sku["seats"] + users
    spec.setdefault("knobs", {}).update({"max_noninteractive_users": users + 7, "latency_ms": 50, "sync_delay": 1})
    path = os.path.join(work, "fleet-scenario.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    return path


def bench_fleet(work, users, forks):
    os.mkdir(os.path.join(work, "fleet-emulator"))
    emulator = start_emulator(os.path.join(work, "fleet-emulator"), fleet_scenario(work, users))
    try:
        password = "Bench-%s-9a!" % secrets.token_urlsafe(12)
        run_id = secrets.token_hex(3)
        hosts = {}
        for index in range(users):
            hosts["user%02d" % index] = {
                "non_interactive_user_upn": "fleet-%s-%02d@contoso.onmicrosoft.com" % (run_id, index),
                "non_interactive_user_display_name": "Fleet %02d" % index}
        inventory = {"fleet": {"hosts": hosts, "vars": dict(
            ROLE_TIMING, ansible_connection="local", ansible_python_interpreter=sys.executable,
            non_interactive_user_usage_location="GB", non_interactive_user_password=password,
            non_interactive_user_environments=emulator.endpoints["environments"],
            non_interactive_user_groups=GROUPS, non_interactive_user_security_roles=["System Administrator"])}}
        inventory_path = os.path.join(work, "fleet-inventory.json")
        with open(os.open(inventory_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
            json.dump(inventory, fh)
        playbook = os.path.join(work, "fleet.yml")
        with open(playbook, "w", encoding="utf-8") as handle:
            handle.write(ROLE_PLAYBOOK)
        env = emulator.client_env(os.path.join(work, "fleet-tokens"))
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory_path,
                   "-f", str(forks), playbook]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=1800)
        wall = time.perf_counter() - started
        log = emulator.control("GET", "/requests")
    finally:
        emulator.stop()
    output = done.stdout + done.stderr
    for secret in (password, emulator.endpoints["client_secret"]):
        output = output.replace(secret, "********")
    if done.returncode:
        print(output[-4000:])
    tokens = token_requests(log)
    api = len([e for e in log if e["service"] in ("graph", "dataverse", "admin_api")])
    print("\nfleet: role for %d users x 2 environments, forks %d, cold token cache: rc %d, %.0f s, %d API requests"
          % (users, forks, done.returncode, wall, api))
    for resource, count in sorted(tokens.items()):
        print("  %-60s %3d token requests" % (resource, count))
    print("  OpenID discovery requests: %d" % discovery_requests(log))
    worst = max(tokens.values()) if tokens else 0
    print("  target <= %d token requests per resource: %s (worst %d)" % (
        TARGET_PER_RESOURCE, "PASS" if done.returncode == 0 and worst <= TARGET_PER_RESOURCE else "FAIL", worst))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the emulator, started by start_emulator()
        install_resource_log()
        from tests.emulator.__main__ import main as serve  # pylint: disable=import-outside-toplevel
        return serve(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--fleet-forks", type=int, default=10)
    parser.add_argument("--skip-forks", action="store_true")
    parser.add_argument("--skip-fleet", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="d365-bench-tokens-") as work:
        if not args.skip_forks:
            os.mkdir(os.path.join(work, "emulator"))
            emulator = start_emulator(os.path.join(work, "emulator"))
            try:
                bench_forks(emulator, work, args.forks)
            finally:
                emulator.stop()
        if not args.skip_fleet:
            bench_fleet(work, args.users, args.fleet_forks)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the role d365.identity.non_interactive_user against the same procedure written by
hand with ansible.builtin.uri (tests/benchmarks/uri_procedure.yml), 1 user x 2 environments.

Both run against one tenant emulator with 50 ms injected latency per request and a 3 s
background sync delay; each gets a fresh tenant (POST /reset), a fresh run and a converged re-run,
in ROUNDS alternated rounds (default 2; the round with the best wall time is shown), both with the same
2 s watch for the asynchronous disable after the licence is removed (the role's last step), then one
more round of both without it.
For every run: wall seconds, API requests (Graph, Dataverse, admin API from the emulator's request
log; token requests and the control API not included), writes (API requests other than GET),
token requests (POSTs to the login endpoint), and the role/uri ratios, then the acceptance
targets with PASS/FAIL (printed, never asserted: a FAIL does not fail `make bench`) and where the
role's fresh-run requests go. Not a test.

    make bench            (or, in the built tree: python tests/benchmarks/bench_procedure.py [ROUNDS])
"""

from __future__ import annotations

import collections
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from urllib.parse import unquote_plus

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from tests.emulator.process import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position

KNOBS = {"latency_ms": 50, "sync_delay": 3}  # tests/emulator/knobs.py
API_SERVICES = ("graph", "dataverse", "admin_api")
GROUPS = ["Dynamics Prod Users"]  # contoso-prod's security group in the default scenario
LICENSE_SKUS = ["DYN365_ENTERPRISE_PLAN1", "DYN365_ENTERPRISE_SALES", "DYN365_ENTERPRISE_CUSTOMER_SERVICE",
                "DYN365_SALES_PREMIUM", "D365_SALES_PRO"]  # the role's default list
# As the integration targets call the role against the emulator (tests/integration/targets/setup_role/tasks/run_role.yml).
ROLE_TIMING = {"non_interactive_user_sync_delay": 1, "non_interactive_user_sync_retries": 30,
               "non_interactive_user_disable_watch_interval": 1}
# The role's last step watches for Dataverse's asynchronous disable after the licence is removed; the uri
# playbook does the same step for as long (uri_disable_watch_seconds), so that both do the same steps.
WATCH_SECONDS = 2
TARGETS = [  # (label, run, metric, limit as a number or "x<factor> of uri")
    ("fresh role API requests <= 25", "fresh", "api", 25),
    ("fresh role wall <= 0.8x uri", "fresh", "wall", 0.8),
    ("converged role API requests <= 3", "converged", "api", 3),
    ("converged role writes == 0", "converged", "writes", 0),
    ("converged role wall <= 0.5x uri", "converged", "wall", 0.5),
]
ROLE_PLAYBOOK = """- name: Benchmark the role
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: d365.identity.non_interactive_user
"""


def summarise(log, wall):
    api = [e for e in log if e["service"] in API_SERVICES and not e.get("user")]
    return {"wall": wall, "api": len(api), "writes": len([e for e in api if e["method"] != "GET"]),
            "tokens": len([e for e in log if e["service"] == "login" and e["method"] == "POST"]),
            "errors": len([e for e in api if (e["status"] or 0) >= 400]), "log": log}


GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def endpoint(entry):
    """'GET dataverse /systemusers?$select&$filter(azureactivedirectoryobjectid)': ids and values left out."""
    path = re.sub(r"/users/[^/?]*@[^/?]*", "/users/{upn}", GUID.sub("{id}", unquote_plus(entry["path"])))
    for prefix in ("/graph/v1.0", "/bap/providers/Microsoft.BusinessAppPlatform", "/api/data/v9.2"):
        path = path.replace(prefix, "")
    path = re.sub(r"^/dataverse/[^/]+", "", path)
    params = []
    for part in (entry.get("query") or "").split("&"):
        name, dummy, value = part.partition("=")
        name = unquote_plus(name)
        if not name or name == "api-version":
            continue
        if name == "$filter":
            name += "(%s)" % ",".join(re.findall(r"([\w/]+)\s+(?:eq|ne)\s", unquote_plus(value)))
        params.append(name)
    return "%s %s %s%s" % (entry["method"], entry["service"], path, ("?" + "&".join(params)) if params else "")


def statuses(entries):
    counts = collections.Counter(str(e["status"] or "drop") for e in entries)
    return "" if set(counts) <= {"200", "201", "204"} else " [%s]" % " ".join(
        "%s:%d" % kv for kv in sorted(counts.items()))


def by_task(log, task_times):
    """[(task, [log entries])] in run order: each request is charged to the last task started before it."""
    tasks, index = [], -1
    for entry in sorted(log, key=lambda e: e["time"]):
        while index + 1 < len(task_times) and task_times[index + 1][0] <= entry["time"]:
            index += 1
            tasks.append((task_times[index][1], []))
        if not tasks:
            tasks.append(("(before the first task)", []))
        tasks[-1][1].append(entry)
    return [(name, entries) for name, entries in tasks if entries]


def task_durations(task_times):
    """[(seconds, task)] longest first, one row per task name (loops and repeats summed)."""
    totals = collections.Counter()
    for (start, name), (end, _next) in zip(task_times, task_times[1:]):
        totals[name] += end - start
    return sorted(((seconds, name) for name, seconds in totals.items()), reverse=True)


def run_playbook(env, playbook, vars_file):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", playbook,
               "-e", "@" + vars_file]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def end_state(emulator, upn):
    """The user exists, holds no licence and is enabled, Non-interactive, System Administrator everywhere."""
    state = emulator.control("GET", "/state")
    user = next((u for u in state["users"] if u["userPrincipalName"] == upn and not u["deleted"]), None)
    if user is None:
        return "no Entra user"
    problems = ["licences %s" % [lic["skuPartNumber"] for lic in user["licenses"]]] if user["licenses"] else []
    for name, env in state["environments"].items():
        rows = [r for r in env["systemusers"] if r["azureactivedirectoryobjectid"] == user["id"]]
        if not rows:
            problems.append("%s: no systemuser" % name)
        elif rows[0]["accessmode"] != 4 or rows[0]["isdisabled"] or "System Administrator" not in rows[0]["roles"]:
            problems.append("%s: %s" % (name, {k: rows[0][k] for k in ("accessmode", "isdisabled", "roles")}))
    return "; ".join(problems) or "ok"


def measure(emulator, work, name, playbook, variables, upn, secret_values):
    """Fresh run then converged re-run of one procedure on a fresh tenant."""
    emulator.control("POST", "/reset")
    emulator.control("POST", "/scenario", {"knobs": KNOBS})
    vars_file = os.path.join(work, name + "-vars.json")
    with open(os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(variables, handle)
    env = emulator.client_env(os.path.join(work, name + "-tokens"))
    env.update({"ANSIBLE_CALLBACK_PLUGINS": os.path.join(ROOT, "tests", "benchmarks", "callback_plugins"),
                "ANSIBLE_CALLBACKS_ENABLED": "bench_task_times"})
    results = {}
    for run in ("fresh", "converged"):
        env["BENCH_TASK_TIMES"] = os.path.join(work, "%s-%s-tasks.jsonl" % (name, run))
        emulator.control("DELETE", "/requests")
        wall, done = run_playbook(env, playbook, vars_file)
        results[run] = summarise(emulator.control("GET", "/requests"), wall)
        with open(env["BENCH_TASK_TIMES"], encoding="utf-8") as handle:
            results[run]["tasks"] = [json.loads(line) for line in handle]
        if done.returncode:
            output = done.stdout[-4000:] + done.stderr[-2000:]
            for value in secret_values:
                output = output.replace(value, "********")
            sys.exit("%s %s run failed (rc %d):\n%s" % (name, run, done.returncode, output))
        results[run]["state"] = end_state(emulator, upn)
    return results


def ratio(a, b):
    return "%.2f" % (a / b) if b else ("n/a" if not a else "inf")


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    load = os.getloadavg()[0]
    password = "Bench-%s-9a!" % secrets.token_urlsafe(12)
    runs = {"role": [], "uri": []}
    unwatched = {"role": [], "uri": []}  # one more round, both without the disable watch
    with tempfile.TemporaryDirectory(prefix="d365-bench-procedure-") as work:
        os.mkdir(os.path.join(work, "emulator"))
        emulator = EmulatorProcess(os.path.join(work, "emulator"))
        try:
            environments = emulator.endpoints["environments"]
            secret_values = [password, emulator.endpoints["client_secret"]]
            role_playbook = os.path.join(work, "role.yml")
            with open(role_playbook, "w", encoding="utf-8") as handle:
                handle.write(ROLE_PLAYBOOK)
            rounds = [(runs, WATCH_SECONDS, "%d" % repeat) for repeat in range(repeats)] + [(unwatched, 0, "n")]
            for into, watch, label in rounds:  # alternated, so that load from elsewhere hits both alike
                upn = "bench-role-%s-%s@contoso.onmicrosoft.com" % (label, secrets.token_hex(4))
                role_vars = {"non_interactive_user_upn": upn, "non_interactive_user_display_name": "Bench role",
                             "non_interactive_user_usage_location": "GB", "non_interactive_user_password": password,
                             "non_interactive_user_environments": environments,
                             "non_interactive_user_license_skus": LICENSE_SKUS, "non_interactive_user_groups": GROUPS,
                             "non_interactive_user_security_roles": ["System Administrator"], **ROLE_TIMING,
                             "non_interactive_user_disable_watch_seconds": watch}
                into["role"].append(measure(emulator, work, "role" + label, role_playbook, role_vars, upn,
                                            secret_values))
                upn = "bench-uri-%s-%s@contoso.onmicrosoft.com" % (label, secrets.token_hex(4))
                uri_vars = {"uri_upn": upn, "uri_display_name": "Bench uri", "uri_usage_location": "GB",
                            "uri_password": password, "uri_environments": environments,
                            "uri_license_skus": LICENSE_SKUS, "uri_groups": GROUPS, "uri_disable_watch_seconds": watch}
                into["uri"].append(measure(emulator, work, "uri" + label, os.path.join(
                    ROOT, "tests", "benchmarks", "uri_procedure.yml"), uri_vars, upn, secret_values))
        finally:
            emulator.stop()
    best = {who: {run: min((r[run] for r in results), key=lambda res: res["wall"]) for run in ("fresh", "converged")}
            for who, results in runs.items()}
    print("\nload average (1 min) %.2f at the start, %.2f at the end, %d cores: wall times compare well only on an "
          "otherwise idle machine" % (load, os.getloadavg()[0], os.cpu_count() or 0))
    report(best["role"], best["uri"], runs)
    role, uri = unwatched["role"][0]["fresh"], unwatched["uri"][0]["fresh"]
    verdict = "PASS" if role["wall"] <= 0.8 * uri["wall"] else "FAIL"
    print("\nwithout the disable watch (both 0 s, one round): fresh role %.2f s, %d API requests; uri %.2f s, %d API "
          "requests; wall %sx uri (%s)" % (role["wall"], role["api"], uri["wall"], uri["api"],
                                           ratio(role["wall"], uri["wall"]), verdict))


def report(role, uri, runs):
    print("role d365.identity.non_interactive_user vs tests/benchmarks/uri_procedure.yml: 1 user x 2 environments,")
    print("fresh tenant, fresh run then converged re-run (role: token cache kept), best wall of %d alternated rounds"
          % len(runs["role"]))
    print("emulator knobs %s; role with %s; both watch %d s for the asynchronous disable after the licence is removed"
          % (json.dumps(KNOBS), ", ".join("%s=%s" % (k[len("non_interactive_user_"):], v) for k, v in ROLE_TIMING.items()),
             WATCH_SECONDS))
    print("API requests = Graph + Dataverse + admin API (no token or control requests); writes = API requests "
          "other than GET")
    header = "%-10s %-5s %7s %8s %7s %7s %6s  %s" % ("run", "who", "wall s", "API req", "writes", "tokens", "4xx",
                                                     "end state")
    print(header)
    print("-" * len(header))
    for run in ("fresh", "converged"):
        for who, res in (("role", role[run]), ("uri", uri[run])):
            print("%-10s %-5s %7.2f %8d %7d %7d %6d  %s" % (run, who, res["wall"], res["api"], res["writes"],
                                                            res["tokens"], res["errors"], res["state"]))
        print("%-10s %-5s %7s %8s %7s %7s" % (run, "ratio", ratio(role[run]["wall"], uri[run]["wall"]),
                                              ratio(role[run]["api"], uri[run]["api"]),
                                              ratio(role[run]["writes"], uri[run]["writes"]),
                                              ratio(role[run]["tokens"], uri[run]["tokens"])))
    for who, results in runs.items():
        for run in ("fresh", "converged"):
            print("%-10s %-5s all rounds: wall %s; API requests %s" % (run, who, " ".join(
                "%.2f" % r[run]["wall"] for r in results), " ".join(str(r[run]["api"]) for r in results)))
    print("\nacceptance (targets for later work; printed, not asserted):")
    for label, run, metric, limit in TARGETS:
        value = role[run][metric]
        if metric == "wall":
            shown, passed = "%.2f s = %sx uri" % (value, ratio(value, uri[run]["wall"])), value <= limit * uri[run]["wall"]
        else:
            shown, passed = str(value), value <= limit
        print("  %-36s %-22s %s" % (label, shown, "PASS" if passed else "FAIL"))
    for run in ("fresh", "converged"):
        log = [e for e in role[run]["log"] if e["service"] in API_SERVICES + ("login",)]
        print("\nrole %s run: requests per task (API requests, writes; login = token POSTs and metadata GETs)" % run)
        for task, entries in by_task(log, role[run]["tasks"]):
            api = [e for e in entries if e["service"] != "login"]
            print("  %3d %2d  %s" % (len(api), len([e for e in api if e["method"] != "GET"]), task))
            for label, count in sorted(collections.Counter(endpoint(e) for e in entries).items()):
                print("          %2dx %s%s" % (count, label, statuses([e for e in entries if endpoint(e) == label])))
    for who, res in (("role", role["fresh"]), ("uri", uri["fresh"])):
        print("\n%s fresh run: where the wall goes (seconds from each task's start to the next's, longest first)" % who)
        for seconds, task in task_durations(res["tasks"])[:12]:
            print("  %6.2f  %s" % (seconds, task))
    counts = collections.Counter(endpoint(e) for e in role["fresh"]["log"] if e["service"] in API_SERVICES)
    print("\nrole fresh run, API requests by endpoint (%d; {id} = any GUID, both environments together):"
          % sum(counts.values()))
    for label, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print("  %3d  %s%s" % (count, label, statuses([e for e in role["fresh"]["log"] if endpoint(e) == label])))


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the fleet playbook d365.identity.non_interactive_users, U users (default 20) x 2 environments.

One tenant emulator (50 ms latency per request, emulated sync 10 s: the background sync and, for the admin API's
forced sync, the licence propagation it waits for (addUser answers userNotLicensed meanwhile; that the two take as
long is an assumption, --license-propagation sets it apart), F free seats of
DYN365_ENTERPRISE_PLAN1 (default 3), injected 429s with Retry-After on Graph, Dataverse and the
admin API), a fresh tenant (POST /reset) and a cold token cache for each phase:

1. fleet: one ansible-playbook run, forks F (default 10);
2. sequential: the same number of users with --forks 1 (or a sample of --sequential-users, the
   wall time then extrapolated to U users and said so);
3. slices: two ansible-playbook processes at once, each with half of the inventory (AWX job slicing).

For each phase: users converged (end state read from the control API), users that failed (and
whether for lack of a seat), the most seats consumed (GET /state polled every 0.25 s) against the
tenant's total, seats at the end against the start, token requests per resource (emulator log),
requests sent inside a Retry-After window after a 429, wall time. Each process has its own cold token cache
(slices: as on two AWX execution nodes, so up to 2 token requests per resource are expected there). The acceptance figures are
printed with PASS/FAIL, never asserted. Not a test.

With fewer free seats than forks, users wait for a seat (the role's seat scheduling: bounded, with
jitter); a seat given back by one user is taken by a waiting one.

    cd <built tree> && PYTHONPATH=<build root> python tests/benchmarks/bench_fleet.py [--users 20] [--forks 10]
        [--seats 3] [--sync-delay 10] [--license-propagation S] [--sequential-users N] [--skip-sequential]
        [--skip-slices] [--p429 0.02]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from tests.benchmarks import bench_tokens  # noqa: E402  pylint: disable=wrong-import-position

SKU = "DYN365_ENTERPRISE_PLAN1"  # the only SKU of the role's default list with free seats in the default scenario
GROUPS = ["Dynamics Prod Users"]  # contoso-prod's security group in the default scenario
API_SERVICES = ("graph", "dataverse", "admin_api")
LATENCY_MS = 50
# The role's waits scaled to the emulator's seconds, as its integration targets do; a user waiting for a seat
# re-reads the seats every 2 s (+/- 50% jitter) instead of the default 5 s.
ROLE_TIMING = {"non_interactive_user_sync_delay": 1, "non_interactive_user_sync_retries": 90,
               "non_interactive_user_disable_watch_seconds": 2, "non_interactive_user_disable_watch_interval": 1,
               "non_interactive_user_seat_poll_interval": 2}
TARGET_TOKENS = 2  # token requests per resource for the whole run
TARGET_WALL = 0.4  # x the same users one after another
# A request that reached the emulator this soon after another process's 429 was answered may have been sent before
# that process could record the window (a fork reads it right before sending): counted apart, not excused.
IN_FLIGHT = 0.1
SEAT_WORDS = re.compile(r"seat|free|CountViolation|licen[cs]e.*(avail|enough)", re.I)


class SeatWatch(threading.Thread):
    """Polls GET /state: the most seats of SKU consumed, and whether it ever went above the tenant's total."""

    def __init__(self, emulator):
        super().__init__(daemon=True)
        self.emulator, self.stopping = emulator, threading.Event()
        self.max_consumed, self.total, self.polls, self.errors = 0, 0, 0, 0

    def run(self):
        while not self.stopping.is_set():
            try:
                sku = seat_counts(self.emulator)
                self.max_consumed = max(self.max_consumed, sku["consumed"])
                self.total = max(self.total, sku["enabled"])
                self.polls += 1
            except Exception:  # pylint: disable=broad-except  # a poll lost under load is only counted
                self.errors += 1
            self.stopping.wait(0.25)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def seat_counts(emulator):
    state = emulator.control("GET", "/state")
    sku = next(s for s in state["skus"] if s["skuPartNumber"] == SKU)
    return {"enabled": int(sku["enabled"]), "consumed": int(sku["consumed"])}


def prepare_tenant(emulator, args):
    """Fresh tenant: args.seats free seats of SKU, the knobs of the run."""
    emulator.control("POST", "/reset")
    consumed = seat_counts(emulator)["consumed"]
    knobs = {"latency_ms": LATENCY_MS, "sync_delay": args.sync_delay, "max_noninteractive_users": args.users + 10,
             "license_propagation_delay": args.sync_delay if args.license_propagation is None else args.license_propagation}
    if args.p429:
        knobs.update(faults={s: {"p429": args.p429} for s in API_SERVICES}, fault_seed=args.seed,
                     fault_retry_after=args.retry_after)
    emulator.control("POST", "/scenario", {"knobs": knobs, "skus": [{"skuPartNumber": SKU, "seats": consumed + args.seats}]})
    emulator.control("DELETE", "/requests")
    return seat_counts(emulator)


def write_inventory(path, hosts, common):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump({"d365_non_interactive_users": {"hosts": hosts, "vars": common}}, handle)


def start_playbook(env, inventory, forks, report):
    """The playbook with its output in a file: two processes writing into pipes read one after the other would
    block the second one once its pipe is full (while it holds seats the first one waits for)."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
               "d365.identity.non_interactive_users", "--forks", str(forks), "-e",
               json.dumps({"non_interactive_users_report_file": report})]
    output = tempfile.TemporaryFile("w+", encoding="utf-8")  # pylint: disable=consider-using-with
    process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    process.output_file = output
    return process


def finish(process, timeout):
    """Wait for a playbook started by start_playbook; its output."""
    process.wait(timeout=timeout)
    process.output_file.seek(0)
    text = process.output_file.read()
    process.output_file.close()
    return text


def end_state(state, upn):
    """ok, or what is missing: the user exists, holds no licence, is enabled, Non-interactive, System Administrator everywhere."""
    user = next((u for u in state["users"] if u["userPrincipalName"].lower() == upn.lower() and not u["deleted"]), None)
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


def report_failures(paths):
    """{upn: message} of the failed users in the playbooks' report files."""
    failed = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError):
            continue
        for row in report.get("rows", []):
            if row.get("state") == "failed" or row.get("outcome") == "failed" or row.get("failed"):
                failed.setdefault(row.get("user"), str(row.get("detail") or row.get("message") or "failed"))
        for item in report.get("failed") or []:
            if isinstance(item, dict):
                failed.setdefault(item.get("user"), str(item.get("message") or item.get("detail") or "failed"))
            else:
                failed.setdefault(str(item), "failed")
    return failed


def retry_after_violations(log, retry_after):
    """Requests after a 429 inside its Retry-After window (the log has no Retry-After value: the injected one is used).

    tenant-wide: any request of the same client to the same service (and environment), from any process;
    same request: the same method + path + query again with the same token (the log names no process; a token
    stands for one token cache, that is one machine: the forks that share the Retry-After of the one that got the
    429, while a slice on another node keeps its own)."""
    entries = sorted(log, key=lambda e: e["time"])
    throttled = [e for e in entries if e["status"] == 429 and e["service"] in API_SERVICES]
    wide, same, late = 0, 0, 0
    for hit in throttled:
        until = hit["time"] + retry_after - 0.02  # from the 429's answer; 20 ms of clock slack
        for entry in entries:
            # when the request arrived (older logs: answered minus the injected latency, late under load)
            started = entry.get("arrived") or entry["time"] - LATENCY_MS / 1000.0
            if entry is hit or started <= hit["time"] or started >= until:
                continue
            key = (entry["client_id"], entry["service"], entry["environment"])
            if key != (hit["client_id"], hit["service"], hit["environment"]):
                continue
            wide += 1
            # the same token cache (one machine) and not on its way already when the 429 was answered
            late += entry.get("token") == hit.get("token") and started - hit["time"] > IN_FLIGHT
            if (entry["method"], entry["path"], entry["query"], entry.get("token")) == (
                    hit["method"], hit["path"], hit["query"], hit.get("token")):
                same += 1
    return len(throttled), wide, same, late


def run_phase(emulator, work, args, name, groups, forks):
    """groups: one list of host names per ansible-playbook process, all started at once."""
    start = prepare_tenant(emulator, args)
    run_id = secrets.token_hex(3)
    password = "Bench-%s-9a!" % secrets.token_urlsafe(12)
    common = dict(ROLE_TIMING, ansible_connection="local", ansible_python_interpreter=sys.executable,
                  non_interactive_user_usage_location="GB", non_interactive_user_password=password,
                  non_interactive_user_environments=emulator.endpoints["environments"],
                  non_interactive_user_groups=GROUPS, non_interactive_user_security_roles=["System Administrator"])
    upns = {host: "fleet-%s-%s-%s@contoso.onmicrosoft.com" % (name, run_id, host) for group in groups for host in group}
    watch = SeatWatch(emulator)
    watch.start()
    cpu_before = cpu_times()
    started = time.perf_counter()
    processes, reports = [], []
    for index, group in enumerate(groups):
        inventory = os.path.join(work, "%s-%d-inventory.json" % (name, index))
        write_inventory(inventory, {upns[h]: {"non_interactive_user_display_name": "Fleet %s" % h} for h in group}, common)
        reports.append(os.path.join(work, "%s-%d-report.json" % (name, index)))
        # A token cache per process: AWX runs each slice on its own execution node.
        env = emulator.client_env(os.path.join(work, "%s-%d-tokens" % (name, index)))
        processes.append(start_playbook(env, inventory, forks, reports[-1]))
    outputs = [finish(p, 3600) for p in processes]
    wall = time.perf_counter() - started
    busy = cpu_busy(cpu_before, cpu_times())
    watch.stop()
    log = emulator.control("GET", "/requests")
    state = emulator.control("GET", "/state")
    end = seat_counts(emulator)
    states = {upn: end_state(state, upn) for upn in upns.values()}
    failures = report_failures(reports)
    rcs = [p.returncode for p in processes]
    if any(rcs) and not failures:
        for output in outputs:
            text = output[-3000:]
            for secret in (password, emulator.endpoints["client_secret"]):
                text = text.replace(secret, "********")
            print(text)
    throttled, wide, same, late = retry_after_violations(log, args.retry_after) if args.p429 else (0, 0, 0, 0)
    return {"name": name, "users": len(upns), "wall": wall, "rcs": rcs, "states": states, "failures": failures,
            "start": start, "end": end, "max_consumed": max(watch.max_consumed, end["consumed"]),
            "total": max(watch.total, start["enabled"]), "polls": watch.polls, "poll_errors": watch.errors,
            "tokens": bench_tokens.token_requests(log), "throttled": throttled, "wide": wide, "same": same, "late": late,
            "api": len([e for e in log if e["service"] in API_SERVICES]), "busy": busy}


def cpu_times():
    """The machine's CPU times (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            return [int(v) for v in handle.readline().split()[1:9]]  # guest time is counted in user time already
    except (OSError, ValueError):
        return None


def cpu_busy(before, after):
    """Share of the machine's CPU time that was busy between two cpu_times() (idle and iowait count as free)."""
    if not before or not after:
        return None
    spent = [b - a for a, b in zip(before, after)]
    return 1 - (spent[3] + spent[4]) / float(sum(spent) or 1)


def verdict(passed):
    return "PASS" if passed else "FAIL"


def show(res, args):
    converged = [u for u, s in res["states"].items() if s == "ok"]
    print("\n%s: %d users x 2 environments, %s: rc %s, wall %.1f s, %d API requests, CPU %s busy" % (
        res["name"], res["users"], res["how"], "/".join(map(str, res["rcs"])), res["wall"], res["api"],
        "?" if res["busy"] is None else "%.0f%%" % (100 * res["busy"])))
    seat_failed = [u for u, m in res["failures"].items() if SEAT_WORDS.search(m)]
    if res["failures"]:
        print("  users failed: %d, of which %d for lack of a free seat (seat scheduling is not in this tree yet)" % (
            len(res["failures"]), len(seat_failed)))
        messages = collections.Counter(m.replace(u, "{upn}")[:150] for u, m in res["failures"].items())
        for message, count in messages.most_common(4):
            print("    %2dx %s" % (count, message))
    others = {u: s for u, s in res["states"].items() if s != "ok" and u not in res["failures"]}
    for upn, problem in list(others.items())[:4]:
        print("  not converged, not reported failed: %s: %s" % (upn, problem))
    worst = max(res["tokens"].values()) if res["tokens"] else 0
    lines = [
        ("all %d users converge" % res["users"], "%d converged" % len(converged), len(converged) == res["users"]),
        ("seats never above the total", "max %d consumed of %d (%d polls)" % (res["max_consumed"], res["total"], res["polls"]),
         res["max_consumed"] <= res["total"] and res["polls"] > 0),
        ("seats back to start", "%d at the start, %d at the end" % (res["start"]["consumed"], res["end"]["consumed"]),
         res["start"]["consumed"] == res["end"]["consumed"]),
        ("<= %d token requests per resource" % TARGET_TOKENS, "worst %d (%s)" % (worst, ", ".join(
            "%s %d" % (r.split("/")[-1] or r, c) for r, c in sorted(res["tokens"].items()))), worst <= TARGET_TOKENS),
    ]
    if args.p429:
        lines.append(("no retry inside Retry-After", "%d 429s, %d same request again inside the window" % (
            res["throttled"], res["same"]), res["same"] == 0))
        lines.append(("no request inside Retry-After (tenant-wide)", "%d requests of the same client+service" % res["wide"],
                      res["wide"] == 0))
        lines.append(("  same machine, sent > %.1f s after the 429" % IN_FLIGHT, "%d (the others came from another "
                      "token cache, or were on their way before the window was recorded)" % res["late"], res["late"] == 0))
    for label, shown, passed in lines:
        print("  %-44s %-60s %s" % (label, shown, verdict(passed)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--seats", type=int, default=3, help="free seats of %s (default 3)" % SKU)
    parser.add_argument("--sync-delay", type=float, default=10, help="emulated Entra -> Dataverse sync delay, s")
    parser.add_argument("--license-propagation", type=float, default=None,
                        help="s from a licence until the admin API's addUser accepts the user (default: the sync delay; "
                             "0: a forced sync succeeds at once)")
    parser.add_argument("--p429", type=float, default=0.02, help="share of API requests answered 429 (0: none)")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of the injected 429s, s")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--sequential-users", type=int, default=None,
                        help="users of the sequential run (default all; fewer: wall extrapolated)")
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--skip-slices", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    hosts = ["u%02d" % i for i in range(args.users)]
    results = []
    with tempfile.TemporaryDirectory(prefix="d365-bench-fleet-") as work:
        os.mkdir(os.path.join(work, "emulator"))
        emulator = bench_tokens.start_emulator(os.path.join(work, "emulator"))
        try:
            results.append(dict(run_phase(emulator, work, args, "fleet", [hosts], args.forks),
                                how="one run, forks %d" % args.forks))
            if not args.skip_sequential:
                sample = hosts[:args.sequential_users or args.users]
                results.append(dict(run_phase(emulator, work, args, "sequential", [sample], 1), how="forks 1"))
            if not args.skip_slices:
                results.append(dict(run_phase(emulator, work, args, "slices", [hosts[0::2], hosts[1::2]], args.forks),
                                    how="2 concurrent processes (slices of %d and %d), forks %d each" % (
                                        len(hosts[0::2]), len(hosts[1::2]), args.forks)))
        finally:
            emulator.stop()
    propagation = args.sync_delay if args.license_propagation is None else args.license_propagation
    print("\nfleet benchmark: %d users x 2 environments, %d free seats of %s, sync delay %g s, licence propagation "
          "before a forced sync %g s, latency %d ms, injected 429 p=%g with Retry-After %g s"
          % (args.users, args.seats, SKU, args.sync_delay, propagation, LATENCY_MS, args.p429, args.retry_after))
    print("load average (1 min) %.2f at the start, %.2f at the end, %d cores" % (load, os.getloadavg()[0], os.cpu_count() or 0))
    print("role timing: %s" % ", ".join("%s=%s" % (k[len("non_interactive_user_"):], v) for k, v in ROLE_TIMING.items()))
    for res in results:
        show(res, args)
    fleet = results[0]
    sequential = next((r for r in results if r["name"] == "sequential"), None)
    if sequential:
        per_user = sequential["wall"] / sequential["users"]
        baseline = per_user * args.users
        note = "" if sequential["users"] == args.users else (
            " (EXTRAPOLATED: %d users measured one after another, %.1f s each, x %d)"
            % (sequential["users"], per_user, args.users))
        print("\nwall: fleet %.1f s vs sequential %.1f s%s = %.2fx  target <= %.1fx  %s" % (
            fleet["wall"], baseline, note, fleet["wall"] / baseline, TARGET_WALL, verdict(fleet["wall"] <= TARGET_WALL * baseline)))
    else:
        print("\nwall: sequential run skipped, no ratio")
    print("\nnot measured: the log has no Retry-After value per 429 (the injected value is used) and names no process:"
          " 'same request again' is the same request with the same token (one token cache, one machine); the tenant-wide"
          " count of slices includes the other slice's requests, which on separate nodes cannot know the window")
    return 0


if __name__ == "__main__":
    sys.exit(main())

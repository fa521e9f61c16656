# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: what one module task costs, and how many token requests a playbook makes.

Runs three playbooks of N tasks each against the tenant emulator: ansible.builtin.ping (the
floor of any module task), d365.identity.m365_license_info, and
d365.identity.dataverse_systemuser_info; prints seconds per task (the empty playbook's time
subtracted, best of two runs), the requests the emulator saw (first run), and each module's
ratio to ansible.builtin.ping with a warm token cache (a one-task run of the same module fills
the cache first) against the acceptance "per module task <= 1.3x ansible.builtin.ping"
(PASS/FAIL printed, never asserted).
Not a test: numbers go to the closing note and README.

    make bench            (or: python tests/benchmarks/bench_tasks.py [N])
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from tests.emulator.process import EmulatorProcess as Emulator  # noqa: E402  pylint: disable=wrong-import-position

TARGET_RATIO = 1.3  # acceptance: per module task <= 1.3x ansible.builtin.ping, warm token cache
TASKS = {
    "ansible.builtin.ping": "ansible.builtin.ping:",
    "d365.identity.m365_license_info": "d365.identity.m365_license_info: {skus: [DYN365_ENTERPRISE_PLAN1]}",
    "d365.identity.dataverse_systemuser_info":
        "d365.identity.dataverse_systemuser_info: {identity: megan@contoso.onmicrosoft.com}",
}


def playbook(path, task, count):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n")
        for index in range(count):
            handle.write("    - name: t%d\n      %s\n" % (index, task))


def timed(env, path):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", path]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode:
        sys.exit("%s failed (rc %d):\n%s%s" % (path, done.returncode, done.stdout[-3000:], done.stderr[-2000:]))
    return took


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory(prefix="d365-bench-") as state_dir:
        emulator = Emulator(state_dir)
        try:
            env = emulator.client_env(os.path.join(state_dir, "tokens"))
            empty = os.path.join(state_dir, "empty.yml")
            playbook(empty, "ansible.builtin.ping:", 0)
            base = min(timed(env, empty) for dummy in range(2))
            print("empty playbook: %.2f s (subtracted below); emulator without latency; token cache warmed first"
                  % base)
            per_task = {}
            for name, task in TASKS.items():
                path = os.path.join(state_dir, "bench.yml")
                playbook(path, task, 1)
                timed(env, path)  # warm the token cache (and the OS file cache) for this module
                playbook(path, task, count)
                emulator.control("DELETE", "/requests")
                took = timed(env, path)
                log = emulator.control("GET", "/requests")
                took = min(took, timed(env, path))  # best of two: other load on the machine only adds
                per_task[name] = (took - base) / count
                tokens = len([r for r in log if r["service"] == "login" and r["method"] == "POST"])
                login = len([r for r in log if r["service"] == "login"]) - tokens
                api = len([r for r in log if r["service"] != "login"])
                print("%-42s %.3f s/task over %d tasks; %d token request(s), %d other login request(s), "
                      "%d API request(s)" % (name, per_task[name], count, tokens, login, api))
            ping = per_task["ansible.builtin.ping"]
            for name in TASKS:
                if name != "ansible.builtin.ping":
                    ratio = per_task[name] / ping
                    print("acceptance: %-40s %.2fx ansible.builtin.ping (target <= %.1fx) %s" % (
                        name, ratio, TARGET_RATIO, "PASS" if ratio <= TARGET_RATIO else "FAIL"))
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()

# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seat scheduling (issue 12), the role against the emulator with several users as separate processes.

1. Five users at once, two free seats: every user waits for a seat instead of failing, all converge,
   the tenant's consumed seats never go above its enabled seats, and the seats end where they started.
2. An environment that already has seven non-interactive users: its users fail in the read phase with
   nothing written, while a user of another environment, started at the same moment, converges.

The processes share nothing but the tenant (each its own token cache): the coordination goes through
Graph's seat counts and Dataverse's counts only, as with AWX job slicing across machines.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
PLAN1 = "DYN365_ENTERPRISE_PLAN1"
PROD_GROUP = "Dynamics Prod Users"
RUN_TIMEOUT = 900  # the machine may be loaded: generous, but bounded

PLAYBOOK = """\
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: d365.identity.non_interactive_user
      vars:
        non_interactive_user_upn: "{{ niu.upn }}"
        non_interactive_user_usage_location: GB
        non_interactive_user_password: "{{ niu.password }}"
        non_interactive_user_environments: "{{ niu.environments }}"
        non_interactive_user_groups: "{{ niu.groups }}"
        non_interactive_user_license_skus: [DYN365_ENTERPRISE_PLAN1, DYN365_ENTERPRISE_SALES]
        non_interactive_user_seat_wait: 600
        non_interactive_user_seat_poll_interval: 2
        non_interactive_user_sync_delay: 1
        non_interactive_user_sync_retries: 60
        non_interactive_user_disable_watch_seconds: 2
        non_interactive_user_disable_watch_interval: 1
"""


class Run:
    """One ansible-playbook process in its own process group, its output in a file."""

    def __init__(self, emulator, workdir, name, environments, groups):
        self.name = name
        self.upn = "seats-%s-%s@contoso.onmicrosoft.com" % (name, uuid.uuid4().hex[:8])
        self.password = "Nx7!" + secrets.token_urlsafe(18)
        workdir.mkdir(parents=True, exist_ok=True)
        playbook = workdir / "seats.yml"
        playbook.write_text(PLAYBOOK)
        vars_file = workdir / ("%s.vars.json" % name)
        vars_file.write_text(json.dumps({"niu": {"upn": self.upn, "password": self.password,
                                                 "environments": environments, "groups": groups}}))
        os.chmod(vars_file, 0o600)
        self.log_path = workdir / ("%s.log" % name)
        self.log = open(self.log_path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
        self.started = time.monotonic()
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook), "-e", "@" + str(vars_file)],
            env=emulator.client_env(str(workdir / ("tokens-%s" % name))), stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.rc = self.seconds = None

    def wait(self, deadline):
        try:
            self.rc = self.process.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.rc = self.process.wait(timeout=30)
        finally:
            self.seconds = time.monotonic() - self.started
            self.log.close()
        return self

    @property
    def output(self):
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        assert self.password not in text, "the password was printed"
        return text

    def describe(self):
        return "%s (%s) rc=%s after %.1f s:\n%s" % (
            self.name, self.upn, self.rc, self.seconds or -1, self.output[-10000:])


def state(emulator):
    return emulator.control("GET", "/state")


def seat_rows(st):
    return {s["skuPartNumber"]: (s["enabled"], s["consumed"]) for s in st["skus"]}


def live_user(st, upn):
    users = [u for u in st["users"] if u["userPrincipalName"].lower() == upn.lower() and not u["deleted"]]
    return users[0] if len(users) == 1 else None


class SeatWatch:
    """Polls the emulator's seats while the runs go on; remembers the highest consumed count per SKU
    and every moment consumed went above enabled."""

    def __init__(self, emulator):
        self.emulator, self.highest, self.over, self.readings = emulator, {}, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                rows = seat_rows(state(self.emulator))
            except Exception:  # pylint: disable=broad-except
                rows = {}  # a busy emulator: read again
            for sku, (enabled, consumed) in rows.items():
                self.highest[sku] = max(self.highest.get(sku, 0), consumed)
                if consumed > enabled:
                    self.over.append((sku, consumed, enabled))
            self.readings += bool(rows)
            self._stop.wait(0.2)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)


def environment_url(emulator, name):
    return next(url for url in emulator.endpoints["environments"] if name in url)


def non_interactive_rows(st, env_name, user_id):
    return [r for r in st["environments"][env_name]["systemusers"]
            if (r["azureactivedirectoryobjectid"] or "").lower() == user_id.lower()]


def test_five_users_two_free_seats_all_converge_without_oversubscription(emulator, tmp_path):
    emulator.control("POST", "/reset")
    try:
        before = state(emulator)
        start = seat_rows(before)
        enabled, consumed = start[PLAN1]
        free = enabled - consumed - 0
        assert free == 2 and start["DYN365_ENTERPRISE_SALES"][0] == start["DYN365_ENTERPRISE_SALES"][1], (
            "the scenario is meant to have 2 free seats in all: %s" % start)
        environments = emulator.endpoints["environments"]
        watch = SeatWatch(emulator)
        started = time.monotonic()
        runs = [Run(emulator, tmp_path, "u%d" % i, environments, [PROD_GROUP]) for i in range(1, 6)]
        deadline = started + RUN_TIMEOUT
        for run in runs:
            run.wait(deadline)
        wall = time.monotonic() - started
        watch.stop()
        print("\nseat scheduling: 5 users, %d free seats: rc %s in %s s, wall %.1f s; highest consumed %s "
              "(enabled %s), %d seat readings" % (free, [r.rc for r in runs], ["%.1f" % r.seconds for r in runs],
                                                  wall, watch.highest, {k: v[0] for k, v in start.items()},
                                                  watch.readings))
        for run in runs:
            assert run.rc == 0, run.describe()
        assert watch.readings > 0
        assert watch.over == [], "consumed seats went above enabled: %s" % watch.over[:5]
        assert watch.highest[PLAN1] <= enabled
        waited = [r.name for r in runs if "FAILED - RETRYING" in r.output and "Borrow one licence" in r.output]
        print("runs that waited for a seat (progress lines): %s" % waited)

        final = state(emulator)
        assert seat_rows(final) == start, "seats not back: %s, at start %s" % (seat_rows(final), start)
        for run in runs:
            user = live_user(final, run.upn)
            assert user is not None, "no live Entra user %s" % run.upn
            assert user["licenses"] == [], "%s still holds %s" % (run.upn, user["licenses"])
            for env_name in final["environments"]:
                rows = non_interactive_rows(final, env_name, user["id"])
                assert len(rows) == 1 and rows[0]["accessmode"] == 4 and rows[0]["isdisabled"] is False, (
                    env_name, rows)
    finally:
        emulator.control("POST", "/reset")


def test_full_environment_fails_its_users_before_any_write_others_converge(emulator, tmp_path):
    emulator.control("POST", "/reset")
    try:
        fillers = ["ni-filler-%d-%s@contoso.onmicrosoft.com" % (i, uuid.uuid4().hex[:6]) for i in range(7)]
        emulator.control("POST", "/scenario", {
            "users": [{"userPrincipalName": upn, "displayName": upn.split("@")[0], "usageLocation": "GB"}
                      for upn in fillers],
            "environments": {"contoso-dev": {"systemusers": [{"user": upn, "accessmode": 4} for upn in fillers]}}})
        before = state(emulator)
        start = seat_rows(before)
        dev_rows_before = sorted(json.dumps(r, sort_keys=True) for r in before["environments"]["contoso-dev"]["systemusers"])
        dev, prod = environment_url(emulator, "contoso-dev"), environment_url(emulator, "contoso-prod")
        emulator.control("DELETE", "/requests")
        started = time.monotonic()
        full = [Run(emulator, tmp_path, "full%d" % i, [dev], []) for i in (1, 2)]
        other = Run(emulator, tmp_path, "other", [prod], [PROD_GROUP])
        deadline = started + RUN_TIMEOUT
        for run in full + [other]:
            run.wait(deadline)
        print("\nfull environment: rc %s in %s s" % ([r.rc for r in full + [other]],
                                                     ["%.1f" % r.seconds for r in full + [other]]))
        assert other.rc == 0, other.describe()
        for run in full:
            assert run.rc != 0, run.describe()
            assert "found before any write; nothing was changed" in run.output, run.describe()
            assert "already has 7 non-interactive users, the maximum of 7" in run.output, run.describe()
            assert dev in run.output, run.describe()
        final = state(emulator)
        for run in full:
            assert live_user(final, run.upn) is None, "%s was created although its environment is full" % run.upn
        assert sorted(json.dumps(r, sort_keys=True)
                      for r in final["environments"]["contoso-dev"]["systemusers"]) == dev_rows_before
        log = emulator.control("GET", "/requests")
        dev_writes = [e for e in log if e["service"] == "dataverse" and e["method"] not in ("GET", "HEAD")
                      and "dev" in (e["environment"] or "")]
        assert dev_writes == [], dev_writes
        creates = [e for e in log if e["service"] == "graph" and e["method"] == "POST" and e["path"].rstrip("/")
                   .endswith("/users")]
        assert len(creates) == 1, "only the other environment's user is created: %s" % creates
        user = live_user(final, other.upn)
        assert user is not None and user["licenses"] == []
        assert len(non_interactive_rows(final, "contoso-prod", user["id"])) == 1
        assert seat_rows(final) == start
    finally:
        emulator.control("POST", "/reset")


def test_fleet_with_more_users_than_forks_and_fewer_seats_converges(emulator, tmp_path):
    """Users waiting for a seat keep their fork: if more users than forks were started at once (strategy free), two
    waiting users could take both forks from the two users holding the seats, and nothing would move until the seat
    wait ran out. The playbook's host_pinned starts a user only with a fork of its own until it is done."""
    emulator.control("POST", "/reset")
    try:
        start = seat_rows(state(emulator))
        upns = ["forks-%d-%s@contoso.onmicrosoft.com" % (i, uuid.uuid4().hex[:6]) for i in range(4)]
        password = "Nx7!" + secrets.token_urlsafe(18)
        inventory = tmp_path / "fleet.json"
        inventory.write_text(json.dumps({"d365_non_interactive_users": {
            "hosts": {upn: {} for upn in upns},
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                     "non_interactive_user_usage_location": "GB", "non_interactive_user_password": password,
                     "non_interactive_user_environments": emulator.endpoints["environments"],
                     "non_interactive_user_groups": [PROD_GROUP],
                     "non_interactive_user_license_skus": [PLAN1, "DYN365_ENTERPRISE_SALES"],
                     # short enough that a fork starved by waiting users fails the test instead of hanging it
                     "non_interactive_user_seat_wait": 120, "non_interactive_user_seat_poll_interval": 2,
                     "non_interactive_user_sync_delay": 1, "non_interactive_user_sync_retries": 60,
                     "non_interactive_user_disable_watch_seconds": 2,
                     "non_interactive_user_disable_watch_interval": 1}}}))
        os.chmod(inventory, 0o600)
        started = time.monotonic()
        done = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), "d365.identity.non_interactive_users",
                               "--forks", "2"], env=emulator.client_env(str(tmp_path / "tokens")),
                              capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
        print("\nfleet of 4 users, forks 2, 2 free seats: rc %d in %.1f s" % (done.returncode, time.monotonic() - started))
        assert password not in done.stdout + done.stderr
        assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
        final = state(emulator)
        assert seat_rows(final) == start
        for upn in upns:
            user = live_user(final, upn)
            assert user is not None and user["licenses"] == [], upn
            for env_name in final["environments"]:
                rows = non_interactive_rows(final, env_name, user["id"])
                assert len(rows) == 1 and rows[0]["accessmode"] == 4 and not rows[0]["isdisabled"], (env_name, rows)
    finally:
        emulator.control("POST", "/reset")

# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo`: the whole procedure against the tenant emulator, narrated.

Starts the emulator with a visible sync delay, runs playbooks/non_interactive_user.yml, prints
a summary, runs it again (0 changed, only reads), dry-runs a second user with --check --diff
(zero writes), proves the door is locked for interactive sign-in, and stops the emulator.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, ROOT)

from tests.emulator.process import EmulatorProcess as Emulator  # noqa: E402  pylint: disable=wrong-import-position

# Seconds the emulated background sync takes: long enough to watch the wait (tests shorten it).
SYNC_DELAY = int(os.environ.get("D365_DEMO_SYNC_DELAY", "12"))
DOMAIN = "contoso.onmicrosoft.com"


def banner(text):
    print("\n" + "=" * 78 + "\n" + text + "\n" + "=" * 78, flush=True)


def password():
    # Meets Entra's complexity rules; never printed.
    return "Ni-" + secrets.token_urlsafe(18) + "9a!"


def playbook(emulator, env, extra, *flags, name="non_interactive_user.yml"):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra, handle)  # extra vars in a file: the password stays off the command line
    try:
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                   os.path.join(ROOT, "playbooks", name), "-e", "@" + handle.name] + list(flags)
        started = time.time()
        result = subprocess.run(command, env=env, check=False)
        return result.returncode, time.time() - started
    finally:
        os.unlink(handle.name)


def seats(state, part="DYN365_ENTERPRISE_PLAN1"):
    sku = next(s for s in state["skus"] if s["skuPartNumber"] == part)
    return "%s %s/%s used" % (part, sku["consumed"], sku["enabled"])


def summary(emulator, upn):
    state = emulator.control("GET", "/state")
    user = next(u for u in state["users"] if u["userPrincipalName"].lower() == upn.lower())
    print("user          %s" % upn)
    print("object id     %s" % user["id"])
    print("licences held %s" % (", ".join(lic["skuPartNumber"] for lic in user.get("licenses") or []) or "none"))
    for name, env in state["environments"].items():
        row = next((s for s in env["systemusers"] if (s.get("azureactivedirectoryobjectid") or "") == user["id"]), None)
        if row:
            print("%-13s accessmode %s (%s), %s, roles: %s" % (
                name, row["accessmode"], "Non-interactive" if row["accessmode"] == 4 else "other",
                "DISABLED" if row["isdisabled"] else "enabled", ", ".join(row.get("roles") or [])))
    return state


def narrate(story, prefix="d365-demo-"):
    """Run story(emulator, state_dir) against a fresh tenant emulator, stopped afterwards whatever happens."""
    total = time.time()
    with tempfile.TemporaryDirectory(prefix=prefix) as state_dir:
        banner("Starting the tenant emulator (login, Graph, Dataverse x2, Power Platform admin API)")
        emulator = Emulator(state_dir)
        try:
            story(emulator, state_dir)
        finally:
            emulator.stop()
    banner("Demo finished in %.0f s" % (time.time() - total))


def main():
    narrate(run)


def run(emulator, state_dir):
    emulator.control("POST", "/scenario", {"knobs": {"sync_delay": SYNC_DELAY}})
    env = emulator.client_env(os.path.join(state_dir, "tokens"))
    envs = emulator.endpoints["environments"]
    upn = "svc-d365-integration@" + DOMAIN
    extra = {"non_interactive_user_upn": upn, "non_interactive_user_display_name": "D365 integration (non-interactive)",
             "non_interactive_user_usage_location": "GB", "non_interactive_user_password": password(),
             "non_interactive_user_environments": envs, "non_interactive_user_sync": "wait",
             # contoso-prod only synchronises members of its security group
             "non_interactive_user_groups": ["Dynamics Prod Users"],
             "non_interactive_user_sync_delay": 3, "non_interactive_user_sync_retries": 20,
             # Dataverse disables an unlicensed user asynchronously: watch one sync cycle after the give-back.
             "non_interactive_user_disable_watch_seconds": SYNC_DELAY + 2,
             "non_interactive_user_disable_watch_interval": 2}
    before = emulator.control("GET", "/state")
    print("environments: %s\nseats before: %s" % (", ".join(envs), seats(before)))

    banner("1. Set up %s (background sync takes %d s: watch the wait)" % (upn, SYNC_DELAY))
    rc, took = playbook(emulator, env, extra)
    if rc:
        sys.exit("demo: the first run failed (rc %d)" % rc)
    after = summary(emulator, upn)
    print("seats after:  %s   (first run: %.0f s)" % (seats(after), took))

    banner("2. Run it again, with verification: nothing to change, only reads")
    emulator.control("DELETE", "/requests")
    rc, took = playbook(emulator, env, dict(extra, non_interactive_user_verify=True))
    log = emulator.control("GET", "/requests")
    writes = [r for r in log if r["method"] != "GET" and r["service"] not in ("login", "msi")]
    print("second run: %.0f s, %d requests to Microsoft endpoints, %d writes (the sign-in test posts only to login)"
          % (took, len(log), len(writes)))
    if rc or writes:
        sys.exit("demo: the converged re-run failed or wrote something")

    banner("3. Dry run (--check --diff) for a second user: every pending change, nothing written")
    emulator.control("DELETE", "/requests")
    second = dict(extra, non_interactive_user_upn="svc-d365-portal@" + DOMAIN, non_interactive_user_verify=False)
    rc, took = playbook(emulator, env, second, "--check", "--diff")
    writes = [r for r in emulator.control("GET", "/requests") if r["method"] != "GET" and r["service"] != "login"]
    print("dry run: %.0f s, %d write requests" % (took, len(writes)))
    if rc or writes:
        sys.exit("demo: the dry run failed or wrote something")

    banner("4. A typo points it at a person's account: refused before any write, with the fix")
    emulator.control("DELETE", "/requests")
    person = dict(second, non_interactive_user_upn="megan@" + DOMAIN)
    rc, took = playbook(emulator, env, person)
    writes = [r for r in emulator.control("GET", "/requests") if r["method"] != "GET" and r["service"] != "login"]
    print("person's account: rc %d, %d write requests" % (rc, len(writes)))
    if rc == 0 or writes:
        sys.exit("demo: the run at a person's account did not stop before writing")

    banner("5. The door is locked: interactive sign-in refused, the API still works")
    page = [r for r in log if r["service"] == "page"]
    api = [r for r in log if r["service"] == "dataverse" and "WhoAmI" in r["path"] and r.get("user")]
    for r in page + api:
        print("%s %s -> %s" % (r["method"], r["path"], r["status"]))


if __name__ == "__main__":
    main()

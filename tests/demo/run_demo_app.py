# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo-app`: a non-interactive user moved to an application user, against the tenant emulator, narrated.

Sets up a non-interactive user with two roles in both environments (playbooks/non_interactive_user.yml), dry-runs
playbooks/migrate_to_application_user.yml with --check --diff (the role mapping, zero writes), runs it (application
user created with the same roles, verified with the app's own secret, the old user retired: one non-interactive user
less per environment), and runs it again (zero writes).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..", "..")))

from run_demo import DOMAIN, banner, narrate, password, playbook, summary  # noqa: E402  pylint: disable=wrong-import-position

ROLES = ["System Administrator", "System Customizer"]


def writes(emulator):
    return [r for r in emulator.control("GET", "/requests") if r["method"] != "GET" and r["service"] not in ("login", "msi")]


def slots(emulator, app_id):
    """Per environment: non-interactive users counting toward the cap, and the app's application user."""
    state = emulator.control("GET", "/state")
    for name, env in state["environments"].items():
        counted = [r for r in env["systemusers"] if r["accessmode"] == 4 and not r.get("applicationid")]
        app = next((r for r in env["systemusers"] if r.get("applicationid") == app_id), None)
        print("%-13s non-interactive users %d of 7; application user: %s" % (name, len(counted), "%s, %s, roles: %s" % (
            app["systemuserid"], "DISABLED" if app["isdisabled"] else "enabled", ", ".join(app.get("roles") or []))
            if app else "none"))
    return state


def main():
    narrate(run, prefix="d365-demo-app-")


def run(emulator, state_dir):
    env = emulator.client_env(os.path.join(state_dir, "tokens"))
    envs = emulator.endpoints["environments"]
    app_id, app_secret = emulator.endpoints["limited_client_id"], emulator.endpoints["limited_client_secret"]
    upn = "svc-d365-portal@" + DOMAIN
    banner("1. Today: %s, a non-interactive user with %s in both environments" % (upn, " and ".join(ROLES)))
    rc, _took = playbook(emulator, env, {
        "non_interactive_user_upn": upn, "non_interactive_user_usage_location": "GB",
        "non_interactive_user_password": password(), "non_interactive_user_environments": envs,
        "non_interactive_user_groups": ["Dynamics Prod Users"], "non_interactive_user_security_roles": ROLES,
        "non_interactive_user_sync_delay": 1, "non_interactive_user_disable_watch_seconds": 2})
    if rc:
        sys.exit("demo-app: setting up the non-interactive user failed (rc %d)" % rc)
    summary(emulator, upn)
    slots(emulator, app_id)

    migration = {"migrate_from_user": upn, "migrate_application_id": app_id, "migrate_environments": envs,
                 "migrate_retire": "delete", "migrate_verify_client_secret": app_secret}
    banner("2. Dry run of the move to the application user of app %s (--check --diff): the role mapping" % app_id)
    emulator.control("DELETE", "/requests")
    rc, took = playbook(emulator, env, migration, "--check", "--diff", name="migrate_to_application_user.yml")
    print("dry run: %.0f s, %d write requests" % (took, len(writes(emulator))))
    if rc or writes(emulator):
        sys.exit("demo-app: the dry run failed or wrote something")

    banner("3. The move: create, grant the same roles, verify (WhoAmI as the app), then retire the old user")
    rc, took = playbook(emulator, env, migration, name="migrate_to_application_user.yml")
    if rc:
        sys.exit("demo-app: the migration failed (rc %d)" % rc)
    state = slots(emulator, app_id)
    gone = not any(u["userPrincipalName"].lower() == upn.lower() and not u["deleted"] for u in state["users"])
    print("%s: %s   (move: %.0f s)" % (upn, "deleted (restorable for 30 days)" if gone else "STILL THERE", took))

    banner("4. Run it again: nothing to change, only reads")
    emulator.control("DELETE", "/requests")
    rc, took = playbook(emulator, env, migration, name="migrate_to_application_user.yml")
    print("second run: %.0f s, %d write requests" % (took, len(writes(emulator))))
    if rc or writes(emulator) or not gone:
        sys.exit("demo-app: the re-run failed or wrote something, or the old user was not retired")


if __name__ == "__main__":
    main()

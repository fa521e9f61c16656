# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The fleet report and the audit report: one row per user x environment, as a text table, Markdown and JSON.

user_result() decides one user's outcome per environment from what the role read and did (its read phase, the
re-reads after the licence was given back or after a failure, the failure itself); fleet_report() gathers every
user's result; audit_report() takes the result of non_interactive_users_audit_info; render() formats either.
Used on the controller by the filters d365.identity.non_interactive_user_result and
d365.identity.non_interactive_users_report. Pure functions: no network access, nothing secret is read (the
inputs never include a password and the outputs only repeat the role's own messages, which never hold one).
"""

from __future__ import annotations

import json
import re

FLEET = "fleet"
AUDIT = "audit"

FLEET_COLUMNS = (("user", "User"), ("environment", "Environment"), ("outcome", "Outcome"), ("state", "State"),
                 ("access_mode", "Access mode"), ("roles", "Roles"), ("licence", "Licence held"),
                 ("detail", "Changed / failure"))
AUDIT_COLUMNS = (("environment", "Environment"), ("user", "User"), ("owned", "Owned"), ("dataverse", "Dataverse"),
                 ("entra", "Entra ID"), ("licences", "Licence held"), ("roles", "Roles"), ("findings", "Findings"))
SLOT_COLUMNS = (("url", "Environment"), ("slots", "Non-interactive slots used"), ("free", "Free"),
                ("listed", "Users"), ("owned", "Owned"), ("seats_wasted", "Seats wasted"), ("broken", "Broken"),
                ("error", "Read error"))

# Outcomes of a user (and of each of its rows).
OK = "ok"
CHANGED = "changed"
REMOVED = "removed"
WOULD_CHANGE = "would change"
FAILED = "failed"

TEXT_CELL = 70  # widest cell of the text table; the full text is in the Markdown and the JSON


def environment_key(url):
    return str(url or "").strip().rstrip("/").lower()


def mentions(text, url):
    """Whether text names the environment url (not merely a longer URL that starts with it)."""
    key = environment_key(url)
    return bool(key) and re.search(re.escape(key) + r"(?![\w.-])", str(text or "").lower()) is not None


def _statuses(result):
    """{environment key: status} of a non_interactive_user_info result (registered; may be failed or skipped)."""
    if not isinstance(result, dict):
        return {}
    return {environment_key(s.get("url")): s for s in result.get("environments") or [] if isinstance(s, dict)}


def _has_statuses(result):
    return isinstance(result, dict) and isinstance(result.get("environments"), list) and not result.get("failed")


def _finished(status, wanted_roles):
    """An environment the role went through without failing: enabled, Non-interactive, the roles held."""
    out = dict(status, present=True, enabled=True, non_interactive=True, roles_ok=True, missing_roles=[], done=True,
               access_mode="non_interactive")
    if isinstance(status.get("roles"), list):
        held = [str(r.get("name") if isinstance(r, dict) else r) for r in status["roles"]]
        out["roles"] = held + [r for r in wanted_roles if r.casefold() not in {h.casefold() for h in held}]
    return out


def env_state(status, wanted_state):
    if status is None:
        return "unknown"
    if not status.get("present"):
        return "absent" if wanted_state == "absent" else "not synchronised"
    if not status.get("enabled"):
        return "disabled"
    if status.get("done"):
        return "ready"
    return "incomplete"


def access_mode(status):
    if not status or not status.get("present"):
        return "-"
    if status.get("access_mode"):
        return str(status["access_mode"])
    return "non_interactive" if status.get("non_interactive") else "not non_interactive"


def held_roles(status, wanted):
    """The roles held: the status's own list when it has one, else the wanted roles that are not missing."""
    if not status or not status.get("present"):
        return []
    if isinstance(status.get("roles"), list):
        return [str(r.get("name") if isinstance(r, dict) else r) for r in status["roles"]]
    missing = {str(m).casefold() for m in status.get("missing_roles") or []}
    return [r for r in wanted if r.casefold() not in missing]


def env_steps(prior, wanted_state, done):
    """What the run did (done=True) or would do in one environment, from the status read before it."""
    if prior is None:
        return []
    if wanted_state == "absent":
        if not prior.get("present"):
            return []
        return ["removed the roles, set access mode Read-Write" if done else "remove the roles, set access mode "
                "Read-Write"]
    steps = []
    if not prior.get("present"):
        steps.append("synchronised the user" if done else "%s the sync" % (
            "force" if prior.get("sync") == "force" else "wait for"))
    elif not prior.get("enabled"):
        steps.append("enabled it again (licensed until Non-interactive)" if done else "wait until enabled")
    if prior.get("missing_roles"):
        steps.append(("granted %s" if done else "grant %s") % ", ".join(str(r) for r in prior["missing_roles"]))
    if not prior.get("non_interactive"):
        steps.append("set access mode Non-interactive")
    return steps


def user_steps(plan, wanted_state, done):
    """What the run did (or would do) to the Entra user and its licence."""
    if wanted_state == "absent":
        return ["deleted the Entra user (restorable for 30 days)" if done else "delete the Entra user"]
    steps = []
    entra = plan.get("entra") or {}
    if entra.get("action") == "create":
        steps.append("created the Entra user" if done else "create the Entra user")
    elif entra.get("action") == "update":
        steps.append("%s the Entra user (%s)" % ("updated" if done else "update",
                                                 ", ".join(sorted(entra.get("changes") or {}))))
    if plan.get("adopt"):
        steps.append("adopted the account (ownership mark)" if done else "adopt the account (ownership mark)")
    if plan.get("groups_to_add"):
        count = len(plan["groups_to_add"])
        steps.append("%s %d group%s" % ("added to" if done else "add to", count, "" if count == 1 else "s"))
    licence = plan.get("license") or {}
    if licence.get("borrow") and licence.get("give_back"):
        steps.append("borrowed a licence and gave it back" if done else "borrow a licence and give it back")
    elif licence.get("borrow"):
        steps.append("borrowed a licence" if done else "borrow a licence")
    elif licence.get("give_back"):
        steps.append(("gave back %s" if done else "give back %s") % ", ".join(licence.get("held") or ["the licence"]))
    return steps


def _licence(data, plan, outcome, failure, plan_read, plan_passed):
    """What the user holds of the borrowable licences once the run ended, as a short text."""
    licence = plan.get("license") or {}
    held = ", ".join(licence.get("held") or [])
    if failure:
        gave_back = data.get("gave_back")
        if plan_passed and isinstance(gave_back, dict) and gave_back and not gave_back.get("skipped"):
            if gave_back.get("failed"):
                return "HELD: giving it back failed, remove it by hand"
            return "none (given back)" if gave_back.get("changed") else "none"
        if plan_read and not plan_passed:
            return held or "none"  # the read phase stopped the run: nothing was written
        return "unknown"
    if data.get("state") == "absent":
        return "none (user deleted)" if outcome == REMOVED else (held or "none")
    if outcome in (OK, WOULD_CHANGE):
        return held or "none"
    if licence.get("give_back") or (licence.get("borrow") and data.get("remove_license", True)):
        return "none"
    if licence.get("borrow"):
        return "one of %s (kept: remove_license is false)" % ", ".join(licence.get("candidates") or ["the SKUs"])
    return held or "none"


def _failure_texts(failure, plan, plan_read, plan_passed, urls):
    """({environment key: text}, the whole failure as one text) for a failed run."""
    message = str(failure.get("message") or failure.get("msg") or "failed").strip()
    task = str(failure.get("task") or "").strip()
    if plan_read and not plan_passed and plan.get("problems"):
        # The read phase stopped the run: each environment gets the problems naming it, and those naming none.
        problems = [str(p) for p in plan["problems"]]
        general = [p for p in problems if not any(mentions(p, u) for u in urls)]
        per_env = {}
        for url in urls:
            mine = [p for p in problems if mentions(p, url)]
            per_env[environment_key(url)] = ("stopped before any write: " + " ".join(general + mine)) if general or mine \
                else "stopped before any write by problems elsewhere; nothing was changed"
        return per_env, message
    if task and task not in message and 'step "' not in message:  # the role's own failure names its step already
        message = 'step "%s": %s' % (task, message)
    named = [u for u in urls if mentions(message, u) or environment_key(u) == environment_key(failure.get("environment"))]
    if not named:
        return {environment_key(u): message for u in urls}, message
    return {environment_key(u): message if u in named else "the run failed in %s" % ", ".join(named)
            for u in urls}, message


def user_result(data):
    """One user's result per environment.

    data: 'upn', 'state', 'check_mode', 'environments' (as given to the role), 'security_roles', 'remove_license',
    'plan' (the read phase's registered result), 'watch' (the re-read after the licence was given back), 'after'
    (the re-read after a failure), 'gave_back' (the role's give-back after a failure) and 'failure' ({'task',
    'message', 'environment', 'error_code', 'request_id'}; empty when the run did not fail).
    """
    data = data if isinstance(data, dict) else {}
    upn = str(data.get("upn") or "")
    wanted_state = data.get("state") or "present"
    check = bool(data.get("check_mode"))
    wanted_roles = [str(r) for r in data.get("security_roles") or []]
    plan = data.get("plan") if isinstance(data.get("plan"), dict) else {}
    failure = data.get("failure") if isinstance(data.get("failure"), dict) and data.get("failure") else None
    plan_read = isinstance(plan.get("environments"), list)
    plan_passed = plan_read and not plan.get("failed")
    converged = plan_passed and bool(plan.get("converged"))
    before = _statuses(plan)

    urls, seen = [], set()
    for url in list(data.get("environments") or []) or [s.get("url") for s in plan.get("environments") or []]:
        if environment_key(url) and environment_key(url) not in seen:
            seen.add(environment_key(url))
            urls.append(str(url).strip().rstrip("/"))

    if failure:
        outcome = FAILED
    elif converged or not plan_passed:
        outcome = OK
    elif check:
        outcome = WOULD_CHANGE
    else:
        outcome = REMOVED if wanted_state == "absent" else CHANGED

    now = before
    if failure and _has_statuses(data.get("after")):
        now = _statuses(data["after"])
    elif outcome == CHANGED:
        licence = plan.get("license") or {}
        if licence.get("give_back") and _has_statuses(data.get("watch")):
            now = _statuses(data["watch"])
        else:
            now = {key: _finished(status, wanted_roles) for key, status in before.items()}

    done = outcome in (CHANGED, REMOVED)
    changes = user_steps(plan, wanted_state, done) if outcome in (CHANGED, REMOVED, WOULD_CHANGE) else []
    per_env_failure, message = _failure_texts(failure, plan, plan_read, plan_passed, urls) if failure else ({}, "")
    rows = []
    for index, url in enumerate(urls):
        key = environment_key(url)
        status, prior = now.get(key), before.get(key)
        if outcome == REMOVED:
            state, mode, roles = ("removed" if prior and prior.get("present") else "absent"), "-", []
            if prior and prior.get("present"):
                mode = "read_write"
        else:
            state, mode, roles = env_state(status, wanted_state), access_mode(status), held_roles(status, wanted_roles)
        if failure:
            row_outcome, detail = FAILED, per_env_failure.get(key) or message
        else:
            steps = []
            if outcome != OK and prior is not None and (wanted_state == "absent" or not prior.get("done")):
                steps = env_steps(prior, wanted_state, done)
            if index == 0:  # the user's own changes once, in the order the role makes them
                steps = steps + changes if wanted_state == "absent" else changes + steps
            row_outcome = outcome if steps else OK
            if not steps:
                detail = "no change" if plan_read else "not read"
            else:
                detail = ("would " if outcome == WOULD_CHANGE else "") + "; ".join(steps)
        rows.append({"environment": url, "outcome": row_outcome, "state": state, "access_mode": mode,
                     "roles": roles, "detail": detail})
    return {"user": upn, "state": wanted_state, "outcome": outcome, "failed": outcome == FAILED,
            "changed": outcome in (CHANGED, REMOVED), "check_mode": check,
            "licence": _licence(data, plan, outcome, failure, plan_read, plan_passed),
            "changes": changes, "message": message, "environments": rows}


def missing_result(host):
    """The result of a host that never got as far as recording one (it failed before the role, or was unreachable)."""
    return {"user": str(host), "state": "present", "outcome": FAILED, "failed": True, "changed": False,
            "check_mode": False, "licence": "unknown", "changes": [],
            "message": "no result: the host failed before the role ran (see its task output)", "environments": []}


def fleet_report(results, hosts=None):
    """{'kind', 'summary', 'rows', 'failed'} over every user's result (None where a host recorded none)."""
    results = list(results or [])
    hosts = list(hosts or [])
    users = []
    for index, result in enumerate(results):
        if not isinstance(result, dict) or not result.get("user"):
            result = missing_result(hosts[index] if index < len(hosts) else "host %d" % (index + 1))
        users.append(result)
    rows = []
    for user in users:
        envs = user.get("environments") or [{"environment": "-", "outcome": user["outcome"], "state": "unknown",
                                             "access_mode": "-", "roles": [], "detail": user.get("message") or "-"}]
        for env in envs:
            rows.append(dict(env, user=user["user"], licence=user.get("licence") or "unknown"))
    counts = {name: sum(1 for u in users if u["outcome"] == name)
              for name in (OK, CHANGED, REMOVED, WOULD_CHANGE, FAILED)}
    summary = {"users": len(users), "rows": len(rows), "ok": counts[OK], "changed": counts[CHANGED],
               "removed": counts[REMOVED], "would_change": counts[WOULD_CHANGE], "failed": counts[FAILED]}
    failed = [{"user": u["user"], "message": u.get("message") or "failed"} for u in users if u["outcome"] == FAILED]
    return {"kind": FLEET, "summary": summary, "rows": rows, "failed": failed}


def audit_report(result):
    """{'kind', 'summary', 'environments', 'rows', 'errors'} of a non_interactive_users_audit_info result."""
    result = result if isinstance(result, dict) else {}
    return {"kind": AUDIT, "summary": dict(result.get("summary") or {}),
            "environments": list(result.get("environments") or []), "rows": list(result.get("rows") or []),
            "errors": list(result.get("errors") or [])}


# -- rendering ---------------------------------------------------------------------------------------------


SENTENCES = frozenset(("findings", "detail", "message"))  # columns whose list items are sentences


def cell(value, sentences=False):
    """One cell's text: lists joined (sentences, or items holding a comma, by '; '), booleans yes/no, nothing '-'."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        separator = "; " if sentences or any(";" in str(v) or "," in str(v) for v in value) else ", "
        return separator.join(cell(v) for v in value)
    if isinstance(value, dict):
        return "%s of %s" % (value.get("used", "?"), value.get("max", "?")) if "used" in value else json.dumps(value)
    return " ".join(str(value).split())  # one line


def _slot_rows(report):
    out = []
    for env in report.get("environments") or []:
        slots = env.get("slots")
        out.append(dict(env, slots=slots, free=(slots or {}).get("free") if slots else None))
    return out


def _title(report):
    s = report.get("summary") or {}
    if report.get("kind") == AUDIT:
        return ("Non-interactive users audit: %s environment(s), %s user(s), %s seat(s) wasted, %s broken row(s), "
                "%s read error(s)" % (s.get("environments", 0), s.get("users", 0), s.get("seats_wasted", 0),
                                      s.get("broken", 0), s.get("errors", 0)))
    parts = ["%s user(s)" % s.get("users", 0)]
    for key, label in (("ok", "ok"), ("changed", "changed"), ("removed", "removed"), ("would_change", "would change"),
                       ("failed", "failed")):
        if s.get(key):
            parts.append("%s %s" % (s[key], label))
    return "Non-interactive users fleet report: " + ", ".join(parts)


def text_table(rows, columns, width=TEXT_CELL):
    cells = [[cell(row.get(key), key in SENTENCES) for key, _label in columns] for row in rows]
    cells = [[c if len(c) <= width else c[:width - 3] + "..." for c in line] for line in cells]
    headers = [label for _key, label in columns]
    widths = [max([len(headers[i])] + [len(line[i]) for line in cells]) for i in range(len(columns))]

    def line(values):
        return "  ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(v) for v in cells])


def markdown_table(rows, columns):
    def esc(text):
        return text.replace("\\", "\\\\").replace("|", "\\|")

    lines = ["| " + " | ".join(label for _key, label in columns) + " |",
             "|" + "|".join("---" for _column in columns) + "|"]
    lines += ["| " + " | ".join(esc(cell(row.get(key), key in SENTENCES)) for key, _label in columns) + " |"
              for row in rows]
    return "\n".join(lines)


def render_text(report):
    parts = [_title(report), ""]
    if report.get("kind") == AUDIT:
        parts += [text_table(_slot_rows(report), SLOT_COLUMNS), "", text_table(report.get("rows") or [], AUDIT_COLUMNS)]
        if report.get("errors"):
            parts += ["", "Read errors:"] + ["- " + cell(e) for e in report["errors"]]
    else:
        parts.append(text_table(report.get("rows") or [], FLEET_COLUMNS))
        if report.get("failed"):
            parts += ["", "Failures:"] + ["- %s: %s" % (f["user"], cell(f["message"])) for f in report["failed"]]
    return "\n".join(parts) + "\n"


def render_markdown(report):
    parts = ["# " + _title(report).split(": ", 1)[0], "", _title(report).split(": ", 1)[1], ""]
    if report.get("kind") == AUDIT:
        parts += ["## Slots", "", markdown_table(_slot_rows(report), SLOT_COLUMNS), "", "## Users", "",
                  markdown_table(report.get("rows") or [], AUDIT_COLUMNS)]
        if report.get("errors"):
            parts += ["", "## Read errors", ""] + ["- " + cell(e) for e in report["errors"]]
    else:
        parts.append(markdown_table(report.get("rows") or [], FLEET_COLUMNS))
        if report.get("failed"):
            parts += ["", "## Failures", ""] + ["- **%s**: %s" % (f["user"], cell(f["message"])) for f in report["failed"]]
    return "\n".join(parts) + "\n"


def render_json(report):
    data = {key: report[key] for key in ("kind", "summary", "environments", "rows", "failed", "errors") if key in report}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def file_format(path):
    """'markdown' for a .md / .markdown path, 'text' for .txt, else 'json'."""
    lower = str(path or "").lower()
    if lower.endswith((".md", ".markdown")):
        return "markdown"
    if lower.endswith(".txt"):
        return "text"
    return "json"


def render(report, path=None):
    """The report with 'text', 'markdown' and 'json' renderings, and 'file_content' for path (by its extension)."""
    out = dict(report, text=render_text(report), markdown=render_markdown(report), json=render_json(report))
    out["file_content"] = out[file_format(path)] if path else None
    return out

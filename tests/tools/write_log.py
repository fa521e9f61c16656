# SPDX-License-Identifier: GPL-3.0-or-later
"""Write logs of the integration targets: what a run WROTE to the tenant, normalised so runs compare.

Record (opt-in, tests/integration/conftest.py): with D365_WRITE_LOG_DIR=DIR, each run_target() writes
DIR/<target>.json: every POST/PATCH/PUT/DELETE the target sent to Graph, Dataverse or the admin API
(token requests left out), in order, as method, service, environment, normalised path, query and body,
status and injected fault. The emulator's own request log cannot serve: the targets clear it and reset the
tenant mid-run, so the emulator runs with a journal next to it (`serve` below) that only the harness clears.

Normalised: GUIDs become what they name when the request was answered (<user:UPN>, <group:name>,
<sku:part number>, <systemuser:domainname>, <role:name>, <bu:name>, <env:name>, <client:name>), others
<guid:N> in order of first appearance; the run's resource_prefix becomes <prefix>, the emulator's URL
<emulator>, timestamps <time>; any password or secret value <redacted>. Request ids and times are not kept.

    python tests/tools/write_log.py compare DIR_A DIR_B [--no-body] [--skip TARGET ...] [--strict-order]
        per target: same / same writes in another order / different (with a short diff); exit 1 if any
        differ (another order counts only with --strict-order).
    python -m tests.tools.write_log serve --state-dir DIR ...   (the emulator with the journal; used by conftest)
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import threading

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
TOKEN_SERVICES = ("login", "msi")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
EMULATOR_URL = re.compile(r"https://127\.0\.0\.1:\d+")
SECRET_KEY = re.compile(r"password|secret", re.IGNORECASE)


# ----- in the emulator process -----

def _names(emu, text):
    """GUID -> what it names in the emulator's state right now (read only: no sync, no materialising)."""
    names = {}
    state = emu.state
    for guid in set(g.lower() for g in GUID.findall(text)):
        label = None
        try:
            user = state.users.get(guid) or state.deleted.get(guid)
            if user:
                label = "user:" + user["userPrincipalName"]
            elif guid in state.groups:
                label = "group:" + state.groups[guid]["displayName"]
            elif guid in state.skus:
                label = "sku:" + state.skus[guid]["skuPartNumber"]
            elif guid in state.clients:
                label = "client:" + state.clients[guid]["name"]
            else:
                for env in list(state.environments.values()):
                    if guid in env.systemusers:
                        label = "systemuser:" + str(env.systemusers[guid]["domainname"])
                    elif guid in env.roles:
                        label = "role:" + env.roles[guid]["name"]
                    elif guid in env.business_units:
                        label = "bu:" + env.business_units[guid]["name"]
                    elif guid in (env.id, env.organization_id):
                        label = "env:" + env.name
                    if label:
                        break
        except (AttributeError, KeyError, TypeError, RuntimeError):
            label = None
        if label:
            names[guid] = label
    return names


def _body(raw):
    if not raw:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text)
    except ValueError:
        return text


def install_journal():
    """Patch the emulator (tests/emulator, unchanged on disk): every write also goes to a journal."""
    from tests.emulator import control, server  # pylint: disable=import-outside-toplevel
    from tests.emulator.httpio import Response  # pylint: disable=import-outside-toplevel

    journal, lock = [], threading.Lock()
    original_log, original_handle = server.Emulator.log, control.handle

    def log(self, req, status, dropped=False, fault=None):
        original_log(self, req, status, dropped=dropped, fault=fault)
        if req.method not in WRITE_METHODS or req.service in TOKEN_SERVICES:
            return
        body = _body(req.body)
        entry = {"method": req.method, "service": req.service, "environment": req.environment,
                 "path": req.path, "query": req.query_string, "body": body, "status": status,
                 "dropped": dropped, "fault": fault,
                 "names": _names(self, req.path + " " + json.dumps(body))}
        with lock:
            journal.append(entry)

    def handle(emu, req):
        if req.path.rstrip("/") == "/_emulator/journal":
            with lock:
                if req.method == "GET":
                    return Response(200, list(journal))
                if req.method == "DELETE":
                    journal.clear()
                    return Response(204)
        return original_handle(emu, req)

    server.Emulator.log = log
    control.handle = handle


def journal_emulator(state_dir):
    """An EmulatorProcess (tests/emulator/process.py) whose server keeps the journal."""
    from unittest import mock  # pylint: disable=import-outside-toplevel

    from tests.emulator import process  # pylint: disable=import-outside-toplevel

    popen = process.subprocess.Popen

    def journal_popen(command, *args, **kwargs):
        return popen(["tests.tools.write_log" if part == "tests.emulator" else part for part in command], *args, **kwargs)

    with mock.patch.object(process.subprocess, "Popen", journal_popen):
        return process.EmulatorProcess(state_dir)


# ----- in the test harness -----

def normalise(journal, resource_prefix):
    names = {}
    for entry in journal:
        names.update(entry.get("names") or {})
    unknown = {}

    def guid(match):
        key = match.group(0).lower()
        if key in names:
            return "<%s>" % names[key].replace(resource_prefix, "<prefix>")
        return "<guid:%d>" % unknown.setdefault(key, len(unknown) + 1)

    def text(value):
        value = GUID.sub(guid, value)
        if resource_prefix:
            value = value.replace(resource_prefix, "<prefix>")
        return TIMESTAMP.sub("<time>", EMULATOR_URL.sub("<emulator>", value))

    def walk(value):
        if isinstance(value, dict):
            return {text(k): "<redacted>" if SECRET_KEY.search(k) and isinstance(v, str) else walk(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return text(value)
        return value

    keys = ("method", "service", "environment", "path", "query", "body", "status", "dropped", "fault")
    return [walk({k: entry.get(k) for k in keys}) for entry in journal]


def record_name(target, extra_vars, check, default_check):
    name = target + "".join("--%s=%s" % (k, v) for k, v in sorted((extra_vars or {}).items()))
    if check != default_check:
        name += "--check" if check else "--no-check"
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", name)


def record(emulator, directory, target, extra_vars, check, default_check, resource_prefix, returncode):
    """Fetch the journal of the run that just ended and write DIRECTORY/<target>.json."""
    os.makedirs(directory, exist_ok=True)
    name = record_name(target, extra_vars, check, default_check)
    data = {"target": target, "extra_vars": extra_vars or {}, "check": check, "returncode": returncode,
            "writes": normalise(emulator.control("GET", "/journal"), resource_prefix)}
    with open(os.path.join(directory, name + ".json"), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")


# ----- compare -----

def _lines(data, body):
    out = []
    for w in data["writes"]:
        line = "%s %s%s %s%s -> %s" % (w["method"], w["service"], "(%s)" % w["environment"] if w.get("environment") else "",
                                       w["path"], "?" + w["query"] if w.get("query") else "", w["status"])
        if w.get("fault") or w.get("dropped"):
            line += " [fault %s%s]" % (w.get("fault"), ", dropped" if w.get("dropped") else "")
        if body and w.get("body") is not None:
            line += " " + json.dumps(w["body"], sort_keys=True)
        out.append(line)
    if data.get("returncode"):
        out.append("(ansible-playbook exit %s)" % data["returncode"])
    return out


def _load(directory):
    return {f[:-5]: os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".json")}


def compare(dir_a, dir_b, body=True, skip=(), strict_order=False, context=2, max_lines=24, width=400):
    a, b = _load(dir_a), _load(dir_b)
    differ = 0
    for name in sorted(set(a) | set(b)):
        if name in skip or name.split("--")[0] in skip:
            print("%-40s skipped" % name)
            continue
        if name not in a or name not in b:
            print("%-40s only in %s" % (name, dir_a if name in a else dir_b))
            differ += 1
            continue
        with open(a[name], encoding="utf-8") as ha, open(b[name], encoding="utf-8") as hb:
            lines_a, lines_b = _lines(json.load(ha), body), _lines(json.load(hb), body)
        if lines_a == lines_b:
            print("%-40s same (%d writes)" % (name, len(lines_a)))
            continue
        if sorted(lines_a) == sorted(lines_b):
            print("%-40s same writes, other order (%d writes)" % (name, len(lines_a)))
            if not strict_order:
                continue
            differ += 1
        else:
            differ += 1
            print("%-40s DIFFERENT (%d vs %d writes)" % (name, len(lines_a), len(lines_b)))
        diff = list(difflib.unified_diff(lines_a, lines_b, "a", "b", n=context, lineterm=""))[2:]
        for line in diff[:max_lines]:
            print("    " + (line if len(line) <= width else line[:width - 3] + "..."))
        if len(diff) > max_lines:
            print("    ... %d more diff lines" % (len(diff) - max_lines))
    print("%d target run(s) differ" % differ)
    return 1 if differ else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="write_log.py", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp_ = sub.add_parser("compare", help="compare two write-log directories")
    cmp_.add_argument("dir_a")
    cmp_.add_argument("dir_b")
    cmp_.add_argument("--no-body", action="store_true", help="compare method, service, path and status only")
    cmp_.add_argument("--skip", action="append", default=[], metavar="TARGET", help="leave a target out (repeatable)")
    cmp_.add_argument("--strict-order", action="store_true", help="the same writes in another order differ too")
    sub.add_parser("serve", help="the tenant emulator with the journal (python -m tests.emulator serve arguments)",
                   add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        install_journal()
        from tests.emulator.__main__ import main as serve  # pylint: disable=import-outside-toplevel
        return serve(["serve"] + rest)
    if rest:
        parser.error("unrecognized arguments: %s" % " ".join(rest))
    return compare(args.dir_a, args.dir_b, body=not args.no_body, skip=set(args.skip), strict_order=args.strict_order)


if __name__ == "__main__":
    sys.exit(main())

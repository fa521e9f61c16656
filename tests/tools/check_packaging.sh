#!/usr/bin/env bash
# Packaging check: build the collection with `ansible-galaxy collection build` from a copy of the
# tree, install the tarball into a fresh collections path, check that `ansible-doc -l` lists
# every module of plugins/modules and that each module's doc renders with EXAMPLES, then run
# one module from the installed copy against the tenant emulator.
#
# Usage: tests/tools/check_packaging.sh [VENV_BIN_DIR]   (default: $VENV/bin, else .venv/bin)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${VENV:-$root/.venv}/bin}
bin=$(cd "$bin" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/d365-packaging.XXXXXX")
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "check_packaging: FAIL: $*" >&2; exit 1; }

export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_DEPRECATION_WARNINGS=0
# Only the installed copy: never the source tree or a build tree the caller points at.
export ANSIBLE_COLLECTIONS_PATH=$work/collections
unset ANSIBLE_CONFIG

# 1. Build from a copy of the tree (nothing is written into the checkout).
mkdir -p "$work/src" "$work/dist" "$work/collections" "$work/run"
tar -C "$root" --exclude=./.git --exclude=./.venv --exclude=./.build --exclude=./tests/output \
  --exclude='__pycache__' --exclude=./.pytest_cache -cf - . | tar -xf - -C "$work/src"
(cd "$work/src" && "$bin/ansible-galaxy" collection build --output-path "$work/dist" >/dev/null)
tarballs=("$work"/dist/d365-identity-*.tar.gz)
[ -f "${tarballs[0]}" ] || fail "ansible-galaxy collection build produced no tarball"
tarball=${tarballs[0]}
tar -tzf "$tarball" >"$work/files.txt"
for unwanted in '^\.venv/' '^tests/output/' '^tests/emulator/' '^\.git/' '\.tar\.gz$'; do
  if grep -Eq "$unwanted" "$work/files.txt"; then fail "the tarball contains files matching $unwanted"; fi
done

# 2. Install into a fresh collections path.
(cd "$work/run" && "$bin/ansible-galaxy" collection install -p "$work/collections" "$tarball" >"$work/install.log" 2>&1) \
  || { cat "$work/install.log" >&2; fail "ansible-galaxy collection install"; }
installed=$work/collections/ansible_collections/d365/identity
[ -f "$installed/MANIFEST.json" ] || fail "the collection was not installed to $installed"

# 3. ansible-doc: every module listed, and each renders with EXAMPLES.
expected=$(cd "$root/plugins/modules" && for f in *.py; do [ "$f" = __init__.py ] || echo "d365.identity.${f%.py}"; done | sort)
[ -n "$expected" ] || fail "no modules in plugins/modules"
listed=$(cd "$work/run" && "$bin/ansible-doc" -t module -l d365.identity | awk '{print $1}' | sort)
[ "$listed" = "$expected" ] || fail "ansible-doc -l d365.identity lists
$listed
but plugins/modules has
$expected"
mapfile -t modules <<<"$expected"
(cd "$work/run" && "$bin/ansible-doc" -t module "${modules[@]}" >"$work/doc.txt" 2>"$work/doc.err") \
  || { cat "$work/doc.err" >&2; fail "ansible-doc did not render"; }
if [ -s "$work/doc.err" ]; then cat "$work/doc.err" >&2; fail "ansible-doc printed warnings or errors"; fi
(cd "$work/run" && "$bin/ansible-doc" -t module --json "${modules[@]}" >"$work/doc.json")
"$bin/python" - "$work/doc.json" "$installed" "$work/doc.txt" "${modules[@]}" <<'PY'
import json, sys
docs = json.load(open(sys.argv[1]))
installed, text, modules = sys.argv[2], open(sys.argv[3]).read(), sys.argv[4:]
bad = []
for name in modules:
    entry = docs.get(name) or {}
    doc = entry.get("doc") or {}
    if not doc.get("short_description"):
        bad.append("%s: no documentation" % name)
    if not (entry.get("examples") or "").strip():
        bad.append("%s: no EXAMPLES" % name)
    if not (doc.get("filename") or "").startswith(installed):
        bad.append("%s: documented from %s, not the installed copy" % (name, doc.get("filename")))
    if "> MODULE %s" % name not in text:
        bad.append("%s: not rendered as text" % name)
if text.count("EXAMPLES:") < len(modules):
    bad.append("text rendering shows EXAMPLES for %d of %d modules" % (text.count("EXAMPLES:"), len(modules)))
if bad:
    sys.exit("check_packaging: FAIL: ansible-doc:\n  " + "\n  ".join(bad))
PY

# The release notes list every module (a new module needs version_added and a regenerated changelog).
"$bin/python" - "$root/changelogs/changelog.yaml" "${modules[@]}" <<'PY'
import sys, yaml
releases = (yaml.safe_load(open(sys.argv[1])) or {}).get("releases") or {}
listed = {"d365.identity." + m["name"] for r in releases.values() for m in (r.get("modules") or [])}
missing = sorted(set(sys.argv[2:]) - listed)
if missing:
    sys.exit("check_packaging: FAIL: changelogs/changelog.yaml does not list %s. For a released version add "
             "version_added and run antsibull-changelog release; while the version is unreleased, delete "
             "changelogs/changelog.yaml, put its release_summary back as a fragment and run "
             "antsibull-changelog release --version <version> --reload-plugins." % ", ".join(missing))
PY

# 4. One module run from the installed copy against the tenant emulator.
mkdir -p "$work/emulator"
(cd "$root" && exec "$bin/python" -m tests.emulator serve --state-dir "$work/emulator") \
  >"$work/emulator.out" 2>"$work/emulator.err" &
emulator_pid=$!
for _ in $(seq 1 300); do
  grep -q '^ready ' "$work/emulator.out" 2>/dev/null && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$work/emulator.err" >&2; fail "the emulator exited"; }
  sleep 0.1
done
grep -q '^ready ' "$work/emulator.out" || fail "the emulator did not start within 30 s"

endpoint() { "$bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/emulator/endpoints.json" "$1"; }
unset CURL_CA_BUNDLE AZURE_CLIENT_CERTIFICATE_PATH AZURE_SECRET AZURE_TENANT D365_ENVIRONMENT_URL
REQUESTS_CA_BUNDLE=$(endpoint ca_bundle)
AZURE_TENANT_ID=$(endpoint tenant_id)
AZURE_CLIENT_ID=$(endpoint client_id)
AZURE_CLIENT_SECRET=$(endpoint client_secret)
AZURE_AUTHORITY_HOST=$(endpoint authority_host)
D365_GRAPH_URL=$(endpoint graph_url)
D365_ADMIN_API_URL=$(endpoint admin_api_url)
D365_TOKEN_CACHE_DIR=$work/tokens
export REQUESTS_CA_BUNDLE AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_AUTHORITY_HOST \
  D365_GRAPH_URL D365_ADMIN_API_URL D365_TOKEN_CACHE_DIR

(cd "$work/run" && "$bin/ansible" localhost --one-line -e "ansible_python_interpreter=$bin/python" \
  -m d365.identity.m365_license_info -a 'skus=DYN365_ENTERPRISE_PLAN1' >"$work/run.out" 2>"$work/run.err") \
  || { cat "$work/run.out" "$work/run.err" >&2; fail "d365.identity.m365_license_info failed from the installed copy"; }
"$bin/python" - "$work/run.out" <<'PY'
import json, os, sys
raw = open(sys.argv[1]).read()
if os.environ["AZURE_CLIENT_SECRET"] in raw:
    sys.exit("check_packaging: FAIL: the client secret appears in the output")
result = json.loads(raw.split(" => ", 1)[1])
skus = [s["skuPartNumber"] for s in result.get("skus", [])]
if result.get("failed") or result.get("changed") or skus != ["DYN365_ENTERPRISE_PLAN1"]:
    sys.exit("check_packaging: FAIL: unexpected result: failed=%s changed=%s skus=%s msg=%s"
             % (result.get("failed"), result.get("changed"), skus, result.get("msg")))
PY

echo "check_packaging: ok ($(basename "$tarball") built and installed; ansible-doc lists and renders" \
  "${#modules[@]} modules; m365_license_info ran from the installed copy against the emulator)"

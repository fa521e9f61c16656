#!/usr/bin/env bash
# Execution environment check (no container engine needed): build the collection tarball,
# run `ansible-builder create` on the example execution-environment.yml with that tarball in
# the context, and check the context it produces; then check that ansible-builder's
# introspection of the installed collection finds requirements.txt and bindep.txt through
# meta/execution-environment.yml.
#
# Usage: tests/tools/check_ee.sh [VENV_BIN_DIR]   (default: $VENV/bin, else .venv/bin)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${VENV:-$root/.venv}/bin}
bin=$(cd "$bin" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/d365-ee.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "check_ee: FAIL: $*" >&2; exit 1; }

version=$("$bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$root/galaxy.yml")
tarball=d365-identity-$version.tar.gz

# The example names the tarball of the current version: a release must update it.
grep -q "src: $tarball" "$root/execution-environment.yml" \
  || fail "execution-environment.yml does not reference $tarball (galaxy.yml version $version)"

# Build from a copy, so nothing is written into the checkout.
mkdir -p "$work/src" "$work/ee" "$work/collections"
tar -C "$root" --exclude=./.git --exclude=./.venv --exclude=./.build --exclude=./tests/output \
  --exclude='__pycache__' --exclude=./.pytest_cache -cf - . | tar -xf - -C "$work/src"
(cd "$work/src" && ANSIBLE_COLLECTIONS_PATH="$work/collections" \
  "$bin/ansible-galaxy" collection build --output-path "$work/ee" >/dev/null)
[ -f "$work/ee/$tarball" ] || fail "ansible-galaxy collection build did not produce $tarball"

tar -tzf "$work/ee/$tarball" >"$work/files.txt"
for f in meta/execution-environment.yml meta/runtime.yml requirements.txt bindep.txt; do
  grep -qx "$f" "$work/files.txt" || fail "$f is missing from $tarball"
done

cp "$root/execution-environment.yml" "$work/ee/"
(cd "$work/ee" && "$bin/ansible-builder" create --file execution-environment.yml --context context \
  --output-filename Containerfile >"$work/create.log" 2>&1) || { cat "$work/create.log" >&2; fail "ansible-builder create"; }

ctx=$work/ee/context
[ -s "$ctx/Containerfile" ] || fail "no Containerfile in the build context"
[ -f "$ctx/_build/collections/$tarball" ] || fail "$tarball is not in the build context"
cmp -s "$work/ee/$tarball" "$ctx/_build/collections/$tarball" || fail "the tarball in the context differs"
grep -q "name: collections/$tarball" "$ctx/_build/requirements.yml" || fail "_build/requirements.yml does not install $tarball"
grep -q "type: file" "$ctx/_build/requirements.yml" || fail "_build/requirements.yml: the collection is not type: file"
grep -q "ansible-galaxy collection install .*-r requirements.yml" "$ctx/Containerfile" \
  || fail "Containerfile does not install the galaxy requirements"
grep -q "introspect.py introspect" "$ctx/Containerfile" || fail "Containerfile does not introspect collection dependencies"

# What the builder stage's introspection will find once the tarball is installed.
ANSIBLE_COLLECTIONS_PATH="$work/collections" "$bin/ansible-galaxy" collection install \
  -p "$work/collections" "$work/ee/$tarball" >/dev/null
"$bin/ansible-builder" introspect --sanitize "$work/collections" >"$work/introspect.txt"
while read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  name=${line%%[ <>=!;\[]*}
  grep -q "'$name.*from collection d365.identity" "$work/introspect.txt" \
    || fail "introspection did not pick up '$name' (from requirements.txt or bindep.txt)"
done < <(cat "$root/requirements.txt" "$root/bindep.txt")

echo "check_ee: ok (ansible-builder $("$bin/ansible-builder" --version), context with Containerfile and $tarball;" \
  "introspection finds requirements.txt and bindep.txt)"

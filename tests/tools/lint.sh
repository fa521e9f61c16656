#!/usr/bin/env bash
# ansible-lint (production profile, offline, see .ansible-lint) over the whole collection
# (roles, playbooks, integration targets, metadata). Self-references (d365.identity.*) resolve through a copy of the collection laid out
# under <tmp>/ansible_collections/d365/identity, which ANSIBLE_COLLECTIONS_PATH points at.
#
# Usage: tests/tools/lint.sh [VENV_BIN_DIR] [PATH...]   (default: $VENV/bin, else .venv/bin;
#        without paths, the whole collection minus .ansible-lint's exclude_paths)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${VENV:-$root/.venv}/bin}
bin=$(cd "$bin" && pwd)
shift || true
work=$(mktemp -d "${TMPDIR:-/tmp}/d365-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT

coll=$work/ansible_collections/d365/identity
mkdir -p "$coll"
tar -C "$root" --exclude=./.git --exclude=./.venv --exclude=./.build --exclude=./tests/output \
  --exclude='__pycache__' --exclude=./.pytest_cache -cf - . | tar -xf - -C "$coll"

export ANSIBLE_COLLECTIONS_PATH=$work ANSIBLE_NOCOLOR=1 NO_COLOR=1
export ANSIBLE_HOME=$work/ansible-home XDG_CACHE_HOME=$work/cache
export PATH=$bin:$PATH
cd "$coll"
"$bin/ansible-lint" --version 2>&1 | sed -n 1p
"$bin/ansible-lint" --profile production --offline --nocolor "$@"
echo "lint: ok (${*:-whole collection})"

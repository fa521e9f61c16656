#!/usr/bin/env bash
# ansible-test entry of every target: each target's runme.sh execs this from its own directory.
# Runs the target's tasks/main.yml the way tests/integration/conftest.py does under pytest: a fresh emulator
# tenant, a new resource_prefix, its own token cache, --check for a *_check_mode target, and the client
# environment a user would export (AZURE_*, D365_*, REQUESTS_CA_BUNDLE; the role also reads some of it on the
# controller). ansible-test passes none of its caller's variables through, so they come from d365_env in
# ../../integration_config.yml, written by tests/integration/ansible_test_emulator.py (make ansible-test-integration).
set -euo pipefail

target=$(basename "$PWD")
config=../../integration_config.yml
if [[ ! -f $config ]]; then
    echo "$target: no tests/integration/integration_config.yml; run 'make ansible-test-integration'," \
         "which starts the tenant emulator and writes it" >&2
    exit 1
fi

while IFS= read -r -d '' assignment; do
    export "${assignment?}"
done < <("${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" -c 'import json, sys
for key, value in sorted(json.load(open(sys.argv[1], encoding="utf-8"))["d365_env"].items()):
    sys.stdout.write("%s=%s\0" % (key, value))' "$config")
export D365_TOKEN_CACHE_DIR=$OUTPUT_DIR/tokens

check=()
[[ $target == *_check_mode ]] && check=(--check)
prefix=t$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

exec ansible-playbook -i "$INVENTORY_PATH" ../setup_runner/playbook.yml -e "@$config" \
    -e "d365_target=$target resource_prefix=$prefix" "${check[@]}" "$@"

# SPDX-License-Identifier: GPL-3.0-or-later
"""The integration targets under ansible-test as well (make ansible-test-integration runs them all).

Every target has an aliases file and a runme.sh, names each shared setup_* directory it includes
(ansible-test copies only those), `ansible-test integration --list-targets` lists exactly the targets
test_targets.py runs, and a few targets pass through ansible-test against an emulator of their own: one
per shared directory, one under --check.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.integration.test_targets import TARGETS, TARGETS_DIR

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IN_BUILD_TREE = (COLLECTION_ROOT.endswith(os.path.join("ansible_collections", "d365", "identity"))
                 and not os.path.isdir(os.path.join(COLLECTION_ROOT, ".git")))
# A few seconds each under ansible-test: setup_graph, setup_dataverse, setup_role and --check.
SMOKE_TARGETS = ["graph_consistency", "dataverse_systemuser_info", "role_check_mode"]
SETUP_INCLUDE = re.compile(r"\.\./\.\./(setup_[a-z_]+)/")
needs_build_tree = pytest.mark.skipif(not IN_BUILD_TREE, reason="ansible-test needs the build tree (make integration)")


def aliases(target):
    with open(os.path.join(TARGETS_DIR, target, "aliases"), encoding="utf-8") as handle:
        return {line.strip() for line in handle if line.strip() and not line.startswith("#")}


@pytest.mark.parametrize("target", TARGETS)
def test_target_is_an_ansible_test_target(target):
    runme = os.path.join(TARGETS_DIR, target, "runme.sh")
    assert os.access(runme, os.X_OK), "%s: runme.sh missing or not executable" % target
    included = set()
    for folder, _dirs, files in os.walk(os.path.join(TARGETS_DIR, target)):
        for name in files:
            if name.endswith(".yml"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    included.update(SETUP_INCLUDE.findall(handle.read()))
    needed = {"context/controller", "needs/target/setup_runner"} | {"needs/target/" + s for s in included}
    assert needed <= aliases(target), "%s: aliases lacks %s" % (target, sorted(needed - aliases(target)))


def test_shared_directories_are_hidden():
    shared = sorted(name for name in os.listdir(TARGETS_DIR) if name not in TARGETS)
    assert shared and all(name.startswith("setup_") for name in shared), shared
    assert all("hidden" in aliases(name) for name in shared)


@needs_build_tree
def test_ansible_test_lists_every_target():
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-test"), "integration",
                             "--list-targets"], cwd=COLLECTION_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == TARGETS


@needs_build_tree
def test_targets_run_under_ansible_test():
    result = subprocess.run([sys.executable, "-m", "tests.integration.ansible_test_emulator"] + SMOKE_TARGETS,
                            cwd=COLLECTION_ROOT, capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    for target in SMOKE_TARGETS:
        assert "Running %s integration test script" % target in output

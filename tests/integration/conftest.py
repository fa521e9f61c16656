# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration harness: one tenant emulator per pytest worker, playbooks run against it.

Each target under targets/<name>/tasks/main.yml is run by ansible-playbook with the
environment a real user would set (AZURE_*, D365_*, REQUESTS_CA_BUNDLE) pointing at the
emulator; targets assert on module results and on the emulator's request log.

With D365_WRITE_LOG_DIR=DIR, every run_target() also writes DIR/<target>.json: the writes it sent,
normalised (tests/tools/write_log.py; `write_log.py compare A B` compares two such directories).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid

import pytest

from tests.emulator.process import EmulatorProcess

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WRITE_LOG_DIR = os.environ.get("D365_WRITE_LOG_DIR")


@pytest.fixture(scope="session")
def emulator():
    with tempfile.TemporaryDirectory(prefix="d365-emulator-") as state_dir:
        if WRITE_LOG_DIR:
            from tests.tools import write_log  # pylint: disable=import-outside-toplevel

            server = write_log.journal_emulator(state_dir)
        else:
            server = EmulatorProcess(state_dir)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def run_target(emulator, tmp_path):
    """run_target('entra_user') -> CompletedProcess of ansible-playbook on that target.

    A target named *_check_mode runs under --check, as a dry run from the command line does
    (ansible_check_mode reflects only --check); its own assertions use check_mode: false.
    """

    def run(name, extra_vars=None, check=None):
        default_check = name.endswith("_check_mode")
        if check is None:
            check = default_check
        emulator.control("POST", "/reset")
        if WRITE_LOG_DIR:
            emulator.control("DELETE", "/journal")
        vars_ = {"emulator": emulator.endpoints, "resource_prefix": "t" + uuid.uuid4().hex[:8]}
        vars_.update(extra_vars or {})
        playbook = tmp_path / ("%s.yml" % name)
        tasks = os.path.join(COLLECTION_ROOT, "tests", "integration", "targets", name, "tasks", "main.yml")
        playbook.write_text("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
                            "    - ansible.builtin.include_tasks: %s\n" % tasks)
        (tmp_path / "vars.json").write_text(json.dumps(vars_))
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                   str(playbook), "-e", "@" + str(tmp_path / "vars.json")]
        if check:
            command.append("--check")
        result = subprocess.run(command, env=emulator.client_env(str(tmp_path / "tokens")), capture_output=True, text=True,
                                timeout=600, check=False)
        if WRITE_LOG_DIR:
            from tests.tools import write_log  # pylint: disable=import-outside-toplevel

            write_log.record(emulator, WRITE_LOG_DIR, name, extra_vars, check, default_check, vars_["resource_prefix"],
                             result.returncode)
        return result

    return run

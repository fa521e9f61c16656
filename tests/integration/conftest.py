# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration harness: one tenant emulator per pytest worker, playbooks run against it.

Each target under targets/<name>/tasks/main.yml is run by ansible-playbook with the
environment a real user would set (AZURE_*, D365_*, REQUESTS_CA_BUNDLE) pointing at the
emulator; targets assert on module results and on the emulator's request log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid

import pytest
import requests

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Emulator:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.emulator", "serve", "--state-dir", state_dir],
            cwd=COLLECTION_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError("emulator did not start: %r" % line)
        with open(os.path.join(state_dir, "endpoints.json"), encoding="utf-8") as handle:
            self.endpoints = json.load(handle)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = self.endpoints["ca_bundle"]

    def control(self, method, path, body=None):
        answer = self.session.request(method, self.endpoints["control_url"] + path, json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def env(self, token_cache_dir):
        """The environment a playbook needs; nothing else about the emulator leaks in."""
        ep = self.endpoints
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "D365_", "CURL_CA_BUNDLE"))}
        env.update({
            "REQUESTS_CA_BUNDLE": ep["ca_bundle"],
            "AZURE_TENANT_ID": ep["tenant_id"],
            "AZURE_CLIENT_ID": ep["client_id"],
            "AZURE_CLIENT_SECRET": ep["client_secret"],
            "AZURE_AUTHORITY_HOST": ep["authority_host"],
            "D365_GRAPH_URL": ep["graph_url"],
            "D365_ADMIN_API_URL": ep["admin_api_url"],
            "D365_ENVIRONMENT_URL": ep["environments"][0],
            "D365_TOKEN_CACHE_DIR": token_cache_dir,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        })
        return env

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def emulator():
    with tempfile.TemporaryDirectory(prefix="d365-emulator-") as state_dir:
        server = Emulator(state_dir)
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
        if check is None:
            check = name.endswith("_check_mode")
        emulator.control("POST", "/reset")
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
        return subprocess.run(command, env=emulator.env(str(tmp_path / "tokens")), capture_output=True, text=True,
                              timeout=600, check=False)

    return run

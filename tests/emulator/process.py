"""Start the emulator as a subprocess, the way every suite, the demo and the benchmarks use it.

    with EmulatorProcess(state_dir) as emulator:
        emulator.endpoints["graph_url"]; emulator.control("POST", "/reset"); emulator.client_env(dir)
"""

import json
import os
import subprocess
import sys

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class EmulatorProcess:
    def __init__(self, state_dir, scenario=None):
        command = [sys.executable, "-m", "tests.emulator", "serve", "--state-dir", state_dir]
        if scenario:
            command += ["--scenario", scenario]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True)
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError("emulator did not start: %r" % line)
        with open(os.path.join(state_dir, "endpoints.json"), encoding="utf-8") as handle:
            self.endpoints = json.load(handle)
        self.session = requests.Session()
        self.session.trust_env = False  # the machine's CA bundle variables must not apply here
        self.session.verify = self.endpoints["ca_bundle"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def control(self, method, path, body=None):
        answer = self.session.request(method, self.endpoints["control_url"] + path, json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def client_env(self, token_cache_dir):
        """The environment a playbook needs, as a user would export it; nothing else leaks in."""
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
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        })
        return env

    def credential_env(self, token_cache_dir, method):
        """client_env for one auth method: client_secret, certificate or managed_identity."""
        ep = self.endpoints
        env = self.client_env(token_cache_dir)
        if method != "client_secret":
            env.pop("AZURE_CLIENT_SECRET")
        if method == "certificate":
            env.update(AZURE_CLIENT_ID=ep["certificate_client_id"],
                       AZURE_CLIENT_CERTIFICATE_PATH=ep["client_certificate_path"])
        if method == "managed_identity":
            env.pop("AZURE_CLIENT_ID")
            env.update(IDENTITY_ENDPOINT=ep["managed_identity_endpoint"], IDENTITY_HEADER=ep["managed_identity_header"])
        return env

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

# SPDX-License-Identifier: GPL-3.0-or-later
"""Each credential strategy gets a real token from the emulator and a module call succeeds.

Client secret is what every other target uses; here: the PEM certificate (msal computes the
SHA-256 thumbprint) and the managed identity through a loopback App Service endpoint
(IDENTITY_ENDPOINT / IDENTITY_HEADER), never 169.254.169.254.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_module(emulator, env, args="skus=DYN365_ENTERPRISE_PLAN1"):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-i", "localhost,",
               "-m", "d365.identity.m365_license_info", "-a", args, "-o"]
    emulator.control("DELETE", "/requests")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    logins = [r for r in emulator.control("GET", "/requests") if r["service"] in ("login", "msi")]
    return result, logins


@pytest.fixture
def base_env(emulator, tmp_path):
    emulator.control("POST", "/reset")
    env = emulator.client_env(str(tmp_path / "tokens"))
    env.pop("AZURE_CLIENT_SECRET")
    return env


def test_certificate(emulator, base_env):
    base_env["AZURE_CLIENT_ID"] = emulator.endpoints["certificate_client_id"]
    base_env["AZURE_CLIENT_CERTIFICATE_PATH"] = emulator.endpoints["client_certificate_path"]
    result, logins = run_module(emulator, base_env)
    assert "SUCCESS" in result.stdout, result.stdout + result.stderr
    assert [r["client_id"] for r in logins if r["method"] == "POST"] == [emulator.endpoints["certificate_client_id"]]
    with open(emulator.endpoints["client_certificate_path"], encoding="ascii") as handle:
        key_line = [line for line in handle.read().splitlines() if line and not line.startswith("-----")][0]
    assert key_line not in result.stdout + result.stderr


def test_managed_identity_loopback(emulator, base_env):
    base_env.pop("AZURE_CLIENT_ID")
    base_env["IDENTITY_ENDPOINT"] = emulator.endpoints["managed_identity_endpoint"]
    base_env["IDENTITY_HEADER"] = emulator.endpoints["managed_identity_header"]
    assert "127.0.0.1" in base_env["IDENTITY_ENDPOINT"]
    result, logins = run_module(emulator, base_env, "auth_method=managed_identity skus=DYN365_ENTERPRISE_PLAN1")
    assert "SUCCESS" in result.stdout, result.stdout + result.stderr
    assert [r["service"] for r in logins] == ["msi"]
    payload = json.loads(result.stdout.split("=>", 1)[1])
    assert payload["skus"][0]["skuPartNumber"] == "DYN365_ENTERPRISE_PLAN1"


def test_missing_credentials_fail_before_any_request(emulator, base_env):
    result, logins = run_module(emulator, base_env)
    assert "FAILED" in result.stdout
    assert "AZURE_CLIENT_SECRET" in result.stdout and "managed_identity" in result.stdout
    assert logins == [] and emulator.control("GET", "/requests") == []

# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX job-template playbook, run through ansible-runner the way AWX runs a job.

AWX hands ansible-runner a private data directory: ``project/`` (the SCM checkout with the
playbook), ``inventory/hosts``, ``env/extravars`` (the survey and extra vars) and
``env/envvars`` (what the job's credentials inject; file injectors become files whose path is
injected). Each case lays one out, with the collection installed from its built tarball the way
an execution environment has it, runs ``playbooks/non_interactive_user.yml`` against the tenant
emulator and checks the job status, the emulator's state and request log, and that no secret
reached the job's stdout, events or artifacts.

Run with: python -m pytest tests/awx (from the collection root, in the project venv).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

from tests.emulator.process import EmulatorProcess

ansible_runner = pytest.importorskip("ansible_runner")

# ansible-runner starts ansible-playbook through pexpect's forkpty; harmless here.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
PLAYBOOK = os.path.join("playbooks", "non_interactive_user.yml")
USER_PASSWORD = "Awx-Job!Passw0rd-7c1e"  # survey password of the new user: must not leak either
SYSTEM_ADMINISTRATOR = "System Administrator"
NON_INTERACTIVE = 4

# Host environment AWX would never pass into a job.
HOST_ONLY_PREFIXES = ("AZURE_", "D365_", "ANSIBLE_", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_")


@pytest.fixture(scope="module")
def emulator():
    with tempfile.TemporaryDirectory(prefix="d365-awx-emulator-") as state_dir:
        server = EmulatorProcess(state_dir)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def installed_collection():
    """ANSIBLE_COLLECTIONS_PATH holding the collection installed from its built tarball."""
    with tempfile.TemporaryDirectory(prefix="d365-awx-collection-") as work:
        source = os.path.join(work, "src")
        ignore = shutil.ignore_patterns(".git", ".venv", ".build", "output", "__pycache__", ".pytest_cache")
        shutil.copytree(COLLECTION_ROOT, source, ignore=ignore)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(work, "collections"), ANSIBLE_NOCOLOR="1")
        subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", work],
                       cwd=source, env=env, check=True, capture_output=True, text=True)
        tarball = glob.glob(os.path.join(work, "d365-identity-*.tar.gz"))[0]
        subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p",
                        os.path.join(work, "collections"), tarball],
                       cwd=work, env=env, check=True, capture_output=True, text=True)
        installed = os.path.join(work, "collections", "ansible_collections", "d365", "identity")
        assert os.path.isfile(os.path.join(installed, PLAYBOOK)), "%s is not in the built collection" % PLAYBOOK
        yield os.path.join(work, "collections"), installed


def builtin_azure_credential(endpoints, private_data_dir):
    """What AWX's "Microsoft Azure Resource Manager" credential injects (service principal)."""
    del private_data_dir
    return {
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
        "AZURE_CLIENT_ID": endpoints["client_id"],
        "AZURE_SECRET": endpoints["client_secret"],
        "AZURE_TENANT": endpoints["tenant_id"],
        "AZURE_CLOUD_ENVIRONMENT": "AzureCloud",
    }, [endpoints["client_secret"]]


def certificate_credential(endpoints, private_data_dir):
    """docs/awx/credential_type_certificate.yml rendered as AWX renders it: the file injector
    writes the PEM to a private file in the job's private data dir, env holds its path, and
    optional fields left empty are injected as empty strings."""
    with open(os.path.join(COLLECTION_ROOT, "docs", "awx", "credential_type_certificate.yml"), encoding="utf-8") as f:
        credential_type = yaml.safe_load(f)
    with open(endpoints["client_certificate_path"], encoding="ascii") as handle:
        pem = handle.read()
    inputs = {
        "tenant_id": endpoints["tenant_id"],
        "client_id": endpoints["certificate_client_id"],
        "client_certificate": pem,
        "client_certificate_password": "",
        "cloud_environment": "public",
        "environment_url": endpoints["environments"][0],
        "authority_host": endpoints["authority_host"],
        "graph_url": endpoints["graph_url"],
        "admin_api_url": endpoints["admin_api_url"],
    }
    fields = {field["id"] for field in credential_type["inputs"]["fields"]}
    assert fields == set(inputs), "the credential type's fields changed: update this test"
    assert set(credential_type["inputs"]["required"]) <= fields
    cert_dir = tempfile.mkdtemp(prefix="awx_credential_", dir=os.path.join(private_data_dir, "env"))
    cert_path = os.path.join(cert_dir, "client_certificate")
    with open(os.open(cert_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="ascii") as handle:
        handle.write(credential_type["injectors"]["file"]["template.client_certificate"].replace(
            "{{ client_certificate }}", pem))
    namespace = dict(inputs)
    env = {}
    for name, template in credential_type["injectors"]["env"].items():
        value = template.replace("{{ tower.filename.client_certificate }}", cert_path)
        for key, input_value in namespace.items():
            value = value.replace("{{ %s }}" % key, input_value)
        assert "{{" not in value, "%s: unrendered template %s" % (name, template)
        env[name] = value
    private_key = pem[pem.index("-----BEGIN"):pem.index("-----END")]
    return env, [private_key]


def lay_out_job(private_data_dir, endpoints, installed, credential_env, extravars):
    """project/, inventory/hosts, env/envvars and env/extravars, as AWX writes them."""
    project = os.path.join(private_data_dir, "project")
    os.makedirs(project)
    shutil.copy(os.path.join(installed, PLAYBOOK), project)
    os.makedirs(os.path.join(private_data_dir, "inventory"))
    with open(os.path.join(private_data_dir, "inventory", "hosts"), "w", encoding="utf-8") as handle:
        # AWX's "Demo Inventory" localhost.
        handle.write("localhost ansible_connection=local ansible_python_interpreter='{{ ansible_playbook_python }}'\n")
    envvars = dict(credential_env)
    # The execution environment image trusts the (emulator's) CA; the rest is AWX's job set-up.
    envvars.update({
        "REQUESTS_CA_BUNDLE": endpoints["ca_bundle"],
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_LOCALHOST_WARNING": "0",
    })
    with open(os.path.join(private_data_dir, "env", "envvars"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(envvars, handle)
    with open(os.path.join(private_data_dir, "env", "extravars"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(extravars, handle)
    with open(os.path.join(private_data_dir, "env", "settings"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"job_timeout": 900, "pexpect_timeout": 10}, handle)


def artifact_texts(runner, private_data_dir):
    """Everything ansible-runner recorded of the job that AWX shows: stdout, events, artifacts."""
    texts = {"stdout": runner.stdout.read()}
    for event in runner.events:
        texts["event %s" % event.get("counter")] = json.dumps(event)
    for path in glob.glob(os.path.join(private_data_dir, "artifacts", "**", "*"), recursive=True):
        if os.path.basename(path) == "command":
            # ansible-runner's copy of its input (command line and the env/envvars it was given),
            # like env/ itself: private to the job (mode 0600), never shown by AWX.
            assert os.stat(path).st_mode & 0o077 == 0, "%s is readable by others" % path
            continue
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                texts[os.path.relpath(path, private_data_dir)] = handle.read()
    return texts


@pytest.mark.parametrize("case, credential, client_key", [
    ("builtin-azure", builtin_azure_credential, "client_id"),
    ("certificate", certificate_credential, "certificate_client_id"),
])
def test_awx_job(case, credential, client_key, emulator, installed_collection, tmp_path, monkeypatch):
    collections_path, installed = installed_collection
    endpoints = emulator.endpoints
    emulator.control("POST", "/reset")
    emulator.control("DELETE", "/requests")
    prod_group = "Dynamics Prod Users"  # contoso-prod only admits members of this security group

    private_data_dir = str(tmp_path / "job")
    os.makedirs(os.path.join(private_data_dir, "env"))
    credential_env, secrets = credential(endpoints, private_data_dir)
    # A survey that has the job create one user in both environments of the emulator.
    upn = "svc-awx-%s@contoso.onmicrosoft.com" % case
    extravars = {
        "non_interactive_user_upn": upn,
        "non_interactive_user_display_name": "AWX %s" % case,
        "non_interactive_user_usage_location": "US",
        "non_interactive_user_password": USER_PASSWORD,
        "non_interactive_user_environments": endpoints["environments"],
        "non_interactive_user_groups": [prod_group],
        "non_interactive_user_sync_delay": 1,
        "non_interactive_user_sync_retries": 30,
        "non_interactive_user_disable_watch_seconds": 2,
        "non_interactive_user_disable_watch_interval": 1,
    }
    if case == "builtin-azure":
        # The built-in credential has no fields for URL overrides: the EE (here: the test) sets them.
        credential_env = dict(credential_env, AZURE_AUTHORITY_HOST=endpoints["authority_host"],
                              D365_GRAPH_URL=endpoints["graph_url"], D365_ADMIN_API_URL=endpoints["admin_api_url"])
    lay_out_job(private_data_dir, endpoints, installed, credential_env, extravars)

    # ansible-runner starts from this process's environment: make it as bare as an EE's.
    for name in list(os.environ):
        if name.startswith(HOST_ONLY_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the job's token cache, not the user's
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", collections_path)

    runner = ansible_runner.run(private_data_dir=private_data_dir, playbook=os.path.basename(PLAYBOOK),
                                ident="1", quiet=True)
    texts = artifact_texts(runner, private_data_dir)
    assert runner.status == "successful", "job %s (rc %s):\n%s" % (runner.status, runner.rc, texts["stdout"][-6000:])
    assert runner.rc == 0

    # No secret in anything the job recorded (AWX shows stdout and events to every viewer).
    assert "PLAY RECAP" in texts["stdout"] and sum(name.startswith("event ") for name in texts) > 10
    for secret in secrets + [USER_PASSWORD]:
        leaked = [name for name, text in texts.items() if secret in text]
        assert not leaked, "a secret appears in %s" % ", ".join(sorted(leaked)[:5])

    # The playbook ran from the installed collection, not from the source tree.
    playbook_events = [e for e in runner.events if e.get("event") == "playbook_on_start"]
    assert playbook_events
    task_paths = {e["event_data"].get("task_path", "") for e in runner.events if e.get("event") == "runner_on_ok"}
    assert any(p.startswith(installed) for p in task_paths), sorted(task_paths)[:3]
    assert not any(p.startswith(COLLECTION_ROOT + os.sep + "roles") for p in task_paths)

    # The emulator's tenant: the user exists, is non-interactive and enabled in both environments
    # with System Administrator, and holds no licence any more.
    state = emulator.control("GET", "/state")
    user = next(u for u in state["users"] if u["userPrincipalName"].lower() == upn and not u["deleted"])
    assert user["accountEnabled"] is True
    assert prod_group in user["groups"], user["groups"]
    assert user["licenses"] == [], user["licenses"]
    for name, env in state["environments"].items():
        rows = [r for r in env["systemusers"] if r["azureactivedirectoryobjectid"] == user["id"]]
        assert len(rows) == 1, "%s: %d systemusers for %s" % (name, len(rows), upn)
        assert rows[0]["accessmode"] == NON_INTERACTIVE, (name, rows[0])
        assert rows[0]["isdisabled"] is False, (name, rows[0])
        assert SYSTEM_ADMINISTRATOR in rows[0]["roles"], (name, rows[0])

    # Every call was made with the credential the job was given, and nothing else.
    log = emulator.control("GET", "/requests")
    token_posts = [r for r in log if r["service"] == "login" and r["method"] == "POST"]
    assert token_posts, "no token was requested"
    callers = {r["client_id"] for r in log if r.get("client_id")}
    assert callers == {endpoints[client_key]}, callers
    assert not [r for r in log if r["status"] >= 500 and not r.get("fault")], "the emulator answered 5xx"

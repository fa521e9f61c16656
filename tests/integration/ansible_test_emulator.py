# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible-test integration against the tenant emulator (make ansible-test-integration).

    cd <build>/ansible_collections/d365/identity
    python -m tests.integration.ansible_test_emulator [ansible-test integration arguments, e.g. targets]

Starts one emulator, writes tests/integration/integration_config.yml (its endpoints as `emulator`, the client
environment as `d365_env`; generated, never in the source tree), runs `ansible-test integration --local` with
the running Python, then stops the emulator and removes the file. ansible-test passes none of its caller's
AZURE_*/D365_* variables to a target, so each target's runme.sh (targets/setup_runner/run.sh) exports them
from d365_env. Targets run one after the other, each on a fresh tenant (the runner resets it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from tests.emulator.process import EmulatorProcess

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(COLLECTION_ROOT, "tests", "integration", "integration_config.yml")
# The client environment of EmulatorProcess.client_env a module needs; ANSIBLE_* settings are ansible-test's.
CLIENT_ENV_PREFIXES = ("AZURE_", "D365_", "REQUESTS_CA_BUNDLE")


def main(argv):
    if os.path.isdir(os.path.join(COLLECTION_ROOT, ".git")):
        sys.exit("run this in the build tree (make ansible-test-integration), not in the checkout: "
                 "integration_config.yml holds the emulator's client secret")
    # The running Python (the venv with msal and requests), for ansible-test and the modules alike.
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-test"), "integration", "--local",
               "--python", "%d.%d" % sys.version_info[:2], "--python-interpreter", sys.executable,
               "--color", "no"] + argv
    with tempfile.TemporaryDirectory(prefix="d365-emulator-") as state_dir:
        with EmulatorProcess(state_dir) as emulator:
            env = {k: v for k, v in emulator.client_env(os.path.join(state_dir, "tokens")).items()
                   if k.startswith(CLIENT_ENV_PREFIXES)}
            fd = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"emulator": emulator.endpoints, "d365_env": env}, handle, indent=2, sort_keys=True)
            try:
                return subprocess.run(command, cwd=COLLECTION_ROOT, check=False).returncode
            finally:
                os.unlink(CONFIG)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""An msal token cache persisted to one private file per (authority, tenant, client).

Every Ansible task is a new process; without this each task would ask Entra for a new
token. The file is the only place a token is ever written: directory 0700, file 0600,
replaced atomically so concurrent tasks never read half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

DEFAULT_DIR_ENV = "D365_TOKEN_CACHE_DIR"


def default_cache_dir():
    base = os.environ.get(DEFAULT_DIR_ENV)
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "d365.identity", "tokens")


def cache_key(authority, tenant_id, client_id):
    raw = "|".join(str(part or "").lower() for part in (authority, tenant_id, client_id))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


class FileTokenCache:
    """Load/save the serialized state of an msal.SerializableTokenCache."""

    def __init__(self, directory, key):
        self.directory = directory
        self.path = os.path.join(directory, key + ".json")

    def load(self):
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                return handle.read()
        except (OSError, ValueError):
            return None

    def save(self, serialized):
        self._ensure_private_dir()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(serialized)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _ensure_private_dir(self):
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        # makedirs honours umask and leaves existing dirs alone: enforce 0700 every time.
        os.chmod(self.directory, 0o700)

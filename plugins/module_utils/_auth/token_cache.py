# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""An msal token cache persisted to one private file per (authority, tenant, client, credential).

Every Ansible task is a new process; without this each task would ask Entra for a new
token. Many such processes run at once (forks, parallel job templates), possibly as other
users sharing a directory, so:

- files are created 0600 with O_EXCL and renamed into place: readers never see half a file;
- a file not owned by us, or readable by group/other, is never read nor rewritten in place;
- writers merge under an flock on ``<key>.lock``, so two tasks never drop each other's token;
- a process that misses the cache asks the identity platform only while it holds the flock on
  ``<key>.<scope digest>.acquire.lock`` (acquiring()), and re-reads the file first: N tasks that miss
  at the same moment make one token request, the others find its token. The kernel drops an flock
  when its holder dies; a holder that is alive but stuck is waited for ACQUIRE_WAIT, then the waiter
  asks on its own (one more token request, never a hang);
- temp files of killed writers are removed by the next writer;
- only a directory we create is made 0700: a user-chosen directory keeps its mode.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import time

DEFAULT_DIR_ENV = "D365_TOKEN_CACHE_DIR"
TMP_SUFFIX = ".tmp"
# A temp file of another key older than this belongs to a dead writer (a write takes milliseconds).
STALE_TMP_SECONDS = 60
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def default_cache_dir():
    """(directory, user_supplied)."""
    base = os.environ.get(DEFAULT_DIR_ENV)
    if base:
        return base, True
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "d365.identity", "tokens"), False


def fingerprint(secret_material):
    """A short one-way digest of a credential, so a changed or revoked credential gets its
    own cache file instead of reusing tokens issued to the old one. Never the secret itself."""
    return hashlib.sha256(("d365.identity:" + secret_material).encode("utf-8")).hexdigest()[:16]


def cache_key(authority, tenant_id, client_id, credential_fingerprint):
    raw = "|".join(str(part or "").lower() for part in (authority, tenant_id, client_id))
    raw += "|" + str(credential_fingerprint or "")
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _trusted(info):
    """Ours and private: anything else may have been planted or read by someone else."""
    return (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()
            and not stat.S_IMODE(info.st_mode) & 0o077)


def _parse(serialized):
    try:
        state = json.loads(serialized) if serialized else {}
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def merge(base, ours, disk, now=None):
    """Three-way merge of msal cache states (dicts of section -> {key: entry}).

    base: what this process loaded; ours: its state now; disk: the file as it is now.
    Entries we added or changed win, entries we removed (a revoked token) stay removed,
    everything else another process wrote is kept. Expired access tokens are dropped.
    """
    now = time.time() if now is None else now
    result = {section: dict(entries) for section, entries in disk.items() if isinstance(entries, dict)}
    for section in set(base) | set(ours):
        base_entries = base.get(section) if isinstance(base.get(section), dict) else {}
        our_entries = ours.get(section) if isinstance(ours.get(section), dict) else {}
        target = result.setdefault(section, {})
        for key, entry in our_entries.items():
            if base_entries.get(key) != entry:
                target[key] = entry
        for key in set(base_entries) - set(our_entries):
            target.pop(key, None)
    for key, entry in list(result.get("AccessToken", {}).items()):
        try:
            expired = int(entry.get("expires_on", 0)) <= now
        except (AttributeError, TypeError, ValueError):
            expired = True
        if expired:
            del result["AccessToken"][key]
    return result


LOCK_WAIT = 10.0  # s; a writer holds the lock for milliseconds: past this, stop caching instead of hanging
# s; the acquisition lock is held while one process asks (OpenID metadata and the token: under a second
# normally, longer when the identity platform is slow or its answers are retried); past this a waiter asks itself.
ACQUIRE_WAIT = 20.0
LOCK_POLL = 0.02  # s between tries: flock has no timeout of its own


def _wait_for_lock(fd, wait):
    """flock(LOCK_EX) with a deadline: True once held, False when another holder keeps it longer."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOCK_POLL)


def _lock(fd, wait):
    """flock(LOCK_EX) with a deadline; OSError when another holder keeps it longer (callers stop caching)."""
    if not _wait_for_lock(fd, wait):
        raise OSError("token cache lock still held after %.0f s" % wait)


def _open_lock(path):
    """An fd of our own lock file (created 0600), or OSError; never through a symlink or another user's file."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise OSError("lock file %s belongs to another user or is no file" % path)
    return fd


class FileTokenCache:
    """Load/save the serialized state of an msal.SerializableTokenCache."""

    def __init__(self, directory, key, user_supplied=True):
        self.directory = directory
        self.key = key
        self.user_supplied = user_supplied
        self.path = os.path.join(directory, key + ".json")
        self.lock_path = os.path.join(directory, key + ".lock")
        self._base = {}

    def load(self):
        """The cached state, or None when there is no trustworthy file, or it holds no (or an empty) JSON object."""
        serialized = self._read()
        self._base = _parse(serialized)
        return serialized if self._base else None

    def save(self, serialized):
        """Merge our changes into the current file under the lock, then replace it atomically.

        Raises OSError when the directory cannot be used; callers then stop caching.
        """
        self._ensure_dir()
        lock_fd = _open_lock(self.lock_path)
        try:
            _lock(lock_fd, LOCK_WAIT)
            self._remove_stale_tmp()
            ours = _parse(serialized)
            self._write(json.dumps(merge(self._base, ours, _parse(self._read())), indent=1))
            # Our next save diffs against what we wrote of ours; entries merged in from other
            # processes are not in our msal cache and must not look like our removals.
            self._base = ours
        finally:
            os.close(lock_fd)  # releases the flock

    def acquire_lock_path(self, scope):
        """One lock per cache file and scope: tokens for other resources are not held up. The
        scope is digested only to make a file name of it (it is no secret)."""
        digest = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:16]
        return os.path.join(self.directory, "%s.%s.acquire.lock" % (self.key, digest))

    # -- throttling shared by the processes of this client (transport/backoff.py) ----------------

    def backoff_path(self, host):
        digest = hashlib.sha256(host.lower().encode("utf-8")).hexdigest()[:16]
        return os.path.join(self.directory, "%s.%s.backoff" % (self.key, digest))

    def backoff_until(self, host):
        """The epoch second until which the service at host asked this client to wait; 0 when none."""
        try:
            return float((self._read(self.backoff_path(host)) or "0").strip() or 0)
        except ValueError:
            return 0.0

    def hold_back(self, host, until):
        """Record a wait until the epoch second until (the later one wins, under the file's lock). Raises no OSError."""
        lock_fd = None
        try:
            self._ensure_dir()
            lock_fd = _open_lock(self.lock_path)
            _lock(lock_fd, LOCK_WAIT)
            if until > self.backoff_until(host):
                self._write("%.3f" % until, self.backoff_path(host))
        except OSError:
            pass  # without the file each process still honours its own Retry-After
        finally:
            if lock_fd is not None:
                os.close(lock_fd)

    @contextlib.contextmanager
    def acquiring(self, scope):
        """Hold the acquisition lock of scope while asking the identity platform for a token.

        Yields True when held: then load() again, as the holder before us may have saved the
        token, and save() before leaving. Yields False when the lock is unusable (no directory,
        a lock file of another user, which could hold it forever) or still held after
        ACQUIRE_WAIT: the caller then asks on its own, as without this lock. Raises no OSError of its own.
        """
        fd = None
        try:
            self._ensure_dir()
            fd = _open_lock(self.acquire_lock_path(scope))
        except OSError:
            pass
        try:
            yield fd is not None and _wait_for_lock(fd, ACQUIRE_WAIT)
        finally:
            if fd is not None:
                os.close(fd)  # releases the flock; the kernel does the same if we die first

    # -- helpers --------------------------------------------------------------------------

    def _read(self, path=None):
        try:
            fd = os.open(path or self.path, os.O_RDONLY | _NOFOLLOW)
        except OSError:
            return None  # missing, or a symlink (ELOOP)
        try:
            if not _trusted(os.fstat(fd)):
                return None
            with os.fdopen(fd, "r", encoding="utf-8") as handle:
                fd = None
                return handle.read()
        except (OSError, ValueError):
            return None
        finally:
            if fd is not None:
                os.close(fd)

    def _write(self, text, path=None):
        # O_EXCL: never write through a file (or symlink) someone else put there. The rename
        # replaces the directory entry, so an untrusted cache file is never written in place.
        tmp = os.path.join(self.directory, ".%s.%d.%s%s" % (self.key, os.getpid(), os.urandom(4).hex(), TMP_SUFFIX))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path or self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _remove_stale_tmp(self):
        """Our key's temp files are dead (we hold its lock); other keys' only after a minute."""
        now = time.time()
        own_prefix = "." + self.key + "."
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            # ".tmp-*": mkstemp names of earlier releases, which never cleaned up after a kill.
            if not (name.startswith(".") and name.endswith(TMP_SUFFIX) or name.startswith(".tmp-")):
                continue
            path = os.path.join(self.directory, name)
            try:
                info = os.lstat(path)
                if info.st_uid != os.geteuid():
                    continue
                if name.startswith(own_prefix) or now - info.st_mtime > STALE_TMP_SECONDS:
                    os.unlink(path)
            except OSError:
                continue  # another writer removed it first

    def _ensure_dir(self):
        try:
            os.makedirs(self.directory, mode=0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST or not os.path.isdir(self.directory):
                raise
            if self.user_supplied:
                return  # someone chose this directory and its mode: leave both alone
        # Ours (just created, or the default location): makedirs honours umask, so set it.
        os.chmod(self.directory, 0o700)

# SPDX-License-Identifier: GPL-3.0-or-later
"""The persisted token cache: private files, trust checks, locking, merging, leftovers."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.d365.identity.plugins.module_utils._auth import token_cache as _token_cache
from ansible_collections.d365.identity.plugins.module_utils._auth.token_cache import (
    FileTokenCache, cache_key, default_cache_dir, fingerprint, merge)

KEY = cache_key("https://login.example", "tenant-1", "client_secret:client-1", fingerprint("s3cret"))
# The directory holding ansible_collections/, for child processes.
IMPORT_ROOT = os.path.abspath(os.path.join(os.path.dirname(_token_cache.__file__), *[".."] * 6))


def at(name, expires_in=3600):
    return {"credential_type": "AccessToken", "secret": "token-" + name,
            "expires_on": str(int(time.time()) + expires_in), "target": name}


def state(*names):
    return {"AccessToken": {name: at(name) for name in names}}


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def tmp_files(directory):
    return [name for name in os.listdir(directory) if "tmp" in name]


def plant(path, content, file_mode):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(path, file_mode)


def make_foreign(path, monkeypatch):
    """Give path another owner: chown as root, else pretend to be another user."""
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    else:
        real = os.geteuid()
        monkeypatch.setattr(_token_cache.os, "geteuid", lambda: real + 1)


def child(script, *args):
    env = dict(os.environ, PYTHONPATH=IMPORT_ROOT)
    return subprocess.Popen([sys.executable, "-c", script] + [str(a) for a in args], env=env)


# -- directory and file modes --------------------------------------------------------------


def test_created_directory_and_file_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        store = FileTokenCache(str(tmp_path / "new" / "tokens"), KEY, user_supplied=True)
        store.save(json.dumps(state("a")))
    finally:
        os.umask(old)
    assert mode(store.directory) == 0o700  # we created it: ours to lock down
    assert mode(store.path) == 0o600
    assert mode(store.lock_path) == 0o600


def test_user_supplied_directory_keeps_its_mode(tmp_path):
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chmod(directory, 0o750)
    FileTokenCache(str(directory), KEY, user_supplied=True).save(json.dumps(state("a")))
    assert mode(directory) == 0o750
    assert mode(directory / (KEY + ".json")) == 0o600


def test_env_directory_is_user_supplied_default_is_ours(tmp_path, monkeypatch):
    monkeypatch.setenv("D365_TOKEN_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == (str(tmp_path / "mine"), True)
    monkeypatch.delenv("D365_TOKEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    directory, user_supplied = default_cache_dir()
    assert directory == str(tmp_path / "xdg" / "d365.identity" / "tokens") and user_supplied is False
    os.makedirs(directory, mode=0o755)
    os.chmod(directory, 0o755)
    FileTokenCache(directory, KEY, user_supplied=False).save(json.dumps(state("a")))
    assert mode(directory) == 0o700  # the collection's own directory is kept private


# -- untrusted files -----------------------------------------------------------------------


@pytest.mark.parametrize("file_mode", [0o640, 0o604, 0o666])
def test_cache_file_readable_by_others_is_ignored_and_not_rewritten_in_place(tmp_path, file_mode):
    store = FileTokenCache(str(tmp_path), KEY)
    plant(store.path, json.dumps(state("planted")), file_mode)
    os.link(store.path, str(tmp_path / "original"))
    assert store.load() is None
    store.save(json.dumps(state("mine")))
    with open(store.path, encoding="utf-8") as handle:
        saved = json.load(handle)
    assert list(saved["AccessToken"]) == ["mine"]  # the planted token was not merged in
    assert mode(store.path) == 0o600
    assert os.stat(store.path).st_ino != os.stat(tmp_path / "original").st_ino
    assert json.loads((tmp_path / "original").read_text())["AccessToken"].keys() == {"planted"}


def test_cache_file_of_another_owner_is_ignored(tmp_path, monkeypatch):
    store = FileTokenCache(str(tmp_path), KEY)
    plant(store.path, json.dumps(state("planted")), 0o600)
    os.link(store.path, str(tmp_path / "original"))
    make_foreign(store.path, monkeypatch)
    assert store.load() is None
    store.save(json.dumps(state("mine")))
    with open(store.path, encoding="utf-8") as handle:
        assert list(json.load(handle)["AccessToken"]) == ["mine"]
    assert os.stat(store.path).st_ino != os.stat(tmp_path / "original").st_ino
    assert "planted" in (tmp_path / "original").read_text()


def test_symlinked_cache_file_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    plant(str(victim), json.dumps(state("victim")), 0o600)
    store = FileTokenCache(str(tmp_path / "cache"), KEY)
    os.makedirs(store.directory, mode=0o700)
    os.symlink(str(victim), store.path)
    assert store.load() is None
    store.save(json.dumps(state("mine")))
    assert not os.path.islink(store.path)
    assert json.loads(victim.read_text())["AccessToken"].keys() == {"victim"}


# -- temp files ----------------------------------------------------------------------------


KILLED_WRITER = """
import json, os, sys
from ansible_collections.d365.identity.plugins.module_utils._auth import token_cache as _token_cache
store = _token_cache.FileTokenCache(sys.argv[1], sys.argv[2])
store.load()
_token_cache.os.replace = lambda *args: os._exit(3)  # killed between write and rename
store.save(json.dumps({"AccessToken": {}}))
"""


def test_temp_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    directory = str(tmp_path / "cache")
    writer = child(KILLED_WRITER, directory, KEY)
    assert writer.wait(timeout=60) == 3
    assert len(tmp_files(directory)) == 1  # what a killed writer leaves behind
    FileTokenCache(directory, KEY).save(json.dumps(state("a")))
    assert tmp_files(directory) == []


def test_stale_temp_files_of_other_keys_removed_after_a_minute(tmp_path):
    other = cache_key("https://login.example", "tenant-2", "client_secret:client-2", fingerprint("x"))
    stale = tmp_path / (".%s.1.aaaa.tmp" % other)
    legacy = tmp_path / ".tmp-k2x9q1"  # mkstemp name of earlier releases
    fresh = tmp_path / (".%s.2.bbbb.tmp" % other)
    for path in (stale, legacy, fresh):
        plant(str(path), "{}", 0o600)
    for path in (stale, legacy):
        os.utime(path, (time.time() - 120, time.time() - 120))
    FileTokenCache(str(tmp_path), KEY).save(json.dumps(state("a")))
    assert not stale.exists() and not legacy.exists()
    assert fresh.exists()  # may belong to a writer still at work


# -- concurrency -------------------------------------------------------------------------


WRITER = """
import json, sys, time
from ansible_collections.d365.identity.plugins.module_utils._auth import token_cache as _token_cache
directory, key, name, start = sys.argv[1:]
store = _token_cache.FileTokenCache(directory, key)
loaded = json.loads(store.load() or "{}")  # as TokenProvider does: load, add a token, save
while time.time() < float(start):
    time.sleep(0.001)
loaded.setdefault("AccessToken", {})[name] = {"secret": "token-" + name, "expires_on": str(int(time.time()) + 3600)}
store.save(json.dumps(loaded))
"""


def test_parallel_writers_lose_no_update(tmp_path):
    directory = str(tmp_path / "cache")
    start = time.time() + 1.5  # every writer has loaded the (empty) cache before anyone saves
    names = ["resource-%d" % i for i in range(8)]
    writers = [child(WRITER, directory, KEY, name, start) for name in names]
    assert [w.wait(timeout=60) for w in writers] == [0] * len(names)
    with open(os.path.join(directory, KEY + ".json"), encoding="utf-8") as handle:
        saved = json.load(handle)
    assert sorted(saved["AccessToken"]) == names
    assert tmp_files(directory) == []
    assert mode(os.path.join(directory, KEY + ".json")) == 0o600


def test_writer_waits_for_the_lock(tmp_path):
    store = FileTokenCache(str(tmp_path), KEY)
    store.save(json.dumps(state("first")))
    with open(store.lock_path, "r+", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        writer = child(WRITER, str(tmp_path), KEY, "second", 0)
        time.sleep(1.0)
        assert writer.poll() is None  # blocked while another process holds the lock
        assert "second" not in open(store.path, encoding="utf-8").read()
    assert writer.wait(timeout=60) == 0
    with open(store.path, encoding="utf-8") as handle:
        assert sorted(json.load(handle)["AccessToken"]) == ["first", "second"]


def test_second_save_in_one_process_keeps_what_others_wrote(tmp_path):
    mine, other = FileTokenCache(str(tmp_path), KEY), FileTokenCache(str(tmp_path), KEY)
    mine.load()
    other.load()
    other.save(json.dumps(state("other")))
    mine.save(json.dumps(state("graph")))
    mine.save(json.dumps(state("graph", "dataverse")))  # msal's cache never saw "other"
    with open(mine.path, encoding="utf-8") as handle:
        assert sorted(json.load(handle)["AccessToken"]) == ["dataverse", "graph", "other"]


# -- merge -------------------------------------------------------------------------------


def test_merge_keeps_others_applies_ours_and_drops_expired():
    base = state("old", "revoked", "graph")
    ours = state("old", "new")
    ours["AccessToken"]["graph"] = dict(at("graph"), secret="token-fresh")  # refreshed after a 401
    disk = state("old", "revoked", "other")
    disk["AccessToken"]["graph"] = dict(at("graph"), secret="token-from-other")
    disk["AccessToken"]["expired"] = at("expired", expires_in=-10)
    disk["Account"] = {"acc": {"x": 1}}
    merged = merge(base, ours, disk)
    assert sorted(merged["AccessToken"]) == ["graph", "new", "old", "other"]  # "revoked" stays removed
    assert merged["AccessToken"]["graph"]["secret"] == "token-fresh"
    assert merged["Account"] == {"acc": {"x": 1}}


# -- cache key ---------------------------------------------------------------------------


def test_cache_key_includes_the_credential_fingerprint_but_not_the_secret():
    keys = {cache_key("https://a", "t", "c", fingerprint("one")), cache_key("https://a", "t", "c", fingerprint("two")),
            cache_key("https://b", "t", "c", fingerprint("one")), cache_key("https://a", "u", "c", fingerprint("one")),
            cache_key("https://a", "t", "d", fingerprint("one"))}
    assert len(keys) == 5
    assert "one" not in fingerprint("one") and len(fingerprint("one")) == 16


def test_a_lock_held_too_long_stops_caching_instead_of_hanging(tmp_path, monkeypatch):
    monkeypatch.setattr(_token_cache, "LOCK_WAIT", 0.3)
    store = FileTokenCache(str(tmp_path), KEY)
    store.save(json.dumps(state("a")))
    with open(store.lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another holder that never lets go
        with pytest.raises(OSError, match="still held"):  # gave up at LOCK_WAIT rather than hang
            FileTokenCache(str(tmp_path), KEY).save(json.dumps(state("b")))
    assert "b" not in open(store.path, encoding="utf-8").read()


# -- acquisition lock ----------------------------------------------------------------------

SCOPE = "https://graph.microsoft.com/.default"

HOLDER = """
import sys, time
from ansible_collections.d365.identity.plugins.module_utils._auth import token_cache as _token_cache
store = _token_cache.FileTokenCache(sys.argv[1], sys.argv[2])
with store.acquiring(sys.argv[3]) as held:
    print("held" if held else "not held", flush=True)
    time.sleep(float(sys.argv[4]))
"""


def holder(directory, scope, seconds):
    """A child process holding the acquisition lock of scope for seconds, once it has printed "held"."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, directory, KEY, scope, str(seconds)],
                               env=dict(os.environ, PYTHONPATH=IMPORT_ROOT), stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def timed_acquiring(store, scope=SCOPE):
    started = time.monotonic()
    with store.acquiring(scope) as held:
        return held, time.monotonic() - started


def test_acquisition_lock_is_per_scope_private_and_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(_token_cache, "ACQUIRE_WAIT", 0.3)
    mine, other = FileTokenCache(str(tmp_path / "cache"), KEY), FileTokenCache(str(tmp_path / "cache"), KEY)
    with mine.acquiring(SCOPE) as held:
        assert held
        path = mine.acquire_lock_path(SCOPE)
        assert os.path.basename(path).startswith(KEY + ".") and path.endswith(".acquire.lock")
        assert mode(path) == 0o600 and mode(mine.directory) == 0o700
        assert timed_acquiring(other, "https://other.example/.default")[0]  # another resource: not held up
        held_too, waited = timed_acquiring(other)
        assert not held_too and 0.3 <= waited < 3  # the deadline, then the caller asks on its own
        assert os.path.exists(path)
    assert timed_acquiring(other)[0]  # released on leaving
    assert tmp_files(mine.directory) == []


def test_acquisition_lock_waits_for_a_live_holder(tmp_path):
    directory = str(tmp_path)
    process = holder(directory, SCOPE, 1.0)
    held, waited = timed_acquiring(FileTokenCache(directory, KEY))
    assert held and 0.5 < waited < 10
    assert process.wait(timeout=60) == 0


def test_acquisition_lock_of_a_killed_holder_is_free_at_once(tmp_path):
    directory = str(tmp_path)
    process = holder(directory, SCOPE, 120)  # would outlast ACQUIRE_WAIT
    process.kill()  # SIGKILL: no clean-up of its own, the kernel drops the flock
    process.wait(timeout=60)
    held, waited = timed_acquiring(FileTokenCache(directory, KEY))
    assert held and waited < 2


def test_acquisition_lock_file_of_another_owner_is_not_waited_for(tmp_path, monkeypatch):
    store = FileTokenCache(str(tmp_path), KEY)
    plant(store.acquire_lock_path(SCOPE), "", 0o666)
    make_foreign(store.acquire_lock_path(SCOPE), monkeypatch)
    held, waited = timed_acquiring(store)  # its owner could hold it forever: ask without it
    assert not held and waited < 1


def test_acquisition_lock_is_not_a_symlink_target(tmp_path):
    victim = tmp_path / "victim"
    plant(str(victim), "keep", 0o600)
    store = FileTokenCache(str(tmp_path / "cache"), KEY)
    os.makedirs(store.directory, mode=0o700)
    os.symlink(str(victim), store.acquire_lock_path(SCOPE))
    assert timed_acquiring(store)[0] is False
    assert victim.read_text() == "keep"


def test_acquisition_lock_without_a_usable_directory_does_not_raise(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    held, waited = timed_acquiring(FileTokenCache(str(blocker / "cache"), KEY))
    assert not held and waited < 1


def test_acquisition_lock_is_released_when_the_body_raises(tmp_path):
    store = FileTokenCache(str(tmp_path), KEY)
    with pytest.raises(RuntimeError):
        with store.acquiring(SCOPE) as held:
            assert held
            raise RuntimeError("token request failed")
    assert timed_acquiring(FileTokenCache(str(tmp_path), KEY))[0]


@pytest.mark.parametrize("content", ["[]", "not json", "\"text\"", "{}"])
def test_cache_file_without_a_json_object_loads_as_empty(tmp_path, content):
    store = FileTokenCache(str(tmp_path), KEY)
    plant(store.path, content, 0o600)
    assert store.load() is None  # msal's deserialize would take "[]" and fail later
    store.save(json.dumps(state("a")))
    with open(store.path, encoding="utf-8") as handle:
        assert list(json.load(handle)["AccessToken"]) == ["a"]

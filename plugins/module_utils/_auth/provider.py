# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""TokenProvider: get_token(scope) for one credential strategy (credentials.py).

What every strategy shares lives here: the persisted, locked cache file, the in-process memo,
forced refresh, the retry budget and the mapping of Entra's answers to AuthError. Building the
msal application and asking it for a token is the strategy's. One application per try, built
only when the persisted cache has no usable token: building one already fetches OIDC metadata.

Parallel tasks on one machine share their tokens: on a cache miss the provider takes the cache
file's acquisition lock for that scope (token_cache.FileTokenCache.acquiring), re-reads the file
(the holder before it may just have saved the token) and only then asks the identity platform.
The OpenID metadata msal fetches for every application is shared by the applications of one
provider (MetadataHttpCache), so a process fetches it once per authority.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

from .._connection import MAX_RETRIES, TIMEOUT
from .._errors import AuthError, ConfigError
from .._transport.http import scrub_queries
from .._transport.retry import RetryBudget
from .credentials import AppSettings, credential_argspec, fresh_secret, load_msal, select_credential
from .token_cache import FileTokenCache, cache_key, default_cache_dir

TOKEN_CACHE = True  # default of the token_cache option

# The credential options and the token cache; connection options are CONNECTION_ARGSPEC (_connection.py).
AUTH_ARGSPEC = dict(credential_argspec(), token_cache={"type": "bool", "default": TOKEN_CACHE})

# AADSTS codes whose fix we can name (the description from Entra is kept as well).
AADSTS_HINTS = {
    "AADSTS7000215": "the client secret is wrong or expired: check client_secret (AZURE_CLIENT_SECRET)",
    "AADSTS7000222": "the client secret has expired: create a new secret for the app registration",
    "AADSTS700016": "the application was not found in the tenant: check client_id and tenant_id",
    "AADSTS90002": "the tenant was not found: check tenant_id (AZURE_TENANT_ID) and cloud_environment",
    "AADSTS700027": "the certificate is not registered on the app registration: upload its public part",
    "AADSTS70011": "the scope is invalid for this resource: check environment_url and cloud_environment",
}
TRANSIENT_AUTH_ERRORS = ("temporarily_unavailable", "server_error")

# The names msal files its http_cache entries under (msal.throttled_http_client and .individual_cache:
# "GET <url> hash=... 2xx" and the index of the expiring mapping).
HTTP_CACHE_KEEP_PREFIX = "GET "
HTTP_CACHE_INDEX = "_index_"


class MetadataHttpCache(dict):
    """An http_cache (msal's documented ClientApplication parameter) for the applications of one provider.

    msal answers a GET it has seen from this cache for 24 h when the answer was a 2xx: the OpenID metadata
    (and instance discovery) every new application fetches in its constructor. It also files the token
    endpoint's 429/5xx and 400 answers here and replays them; those are not kept, so the fresh application
    of each retry (_acquire) asks again. Nothing of it is written to disk: msal's recipe for that pickles
    the whole mapping, error answers and digests of token request bodies (which hold the client secret or
    assertion) included. Should msal rename its keys, nothing is kept: one metadata request per
    application, as without this cache, and still no replayed error.
    """

    def __setitem__(self, key, value):
        if key == HTTP_CACHE_INDEX or (isinstance(key, str) and key.startswith(HTTP_CACHE_KEEP_PREFIX)):
            super().__setitem__(key, value)


class TokenProvider:
    """get_token(scope) for one credential; memoised per process, persisted across tasks."""

    def __init__(self, credential, authority_host, session, timeout=TIMEOUT, max_retries=MAX_RETRIES,
                 cache_store=None, instance_discovery=True, sleep=time.sleep):
        self.credential = credential
        self.authority = authority_host.rstrip("/") + "/" + (credential.tenant_id or "organizations")
        self.session = session
        self.timeout = timeout
        self.max_retries = max_retries
        self.cache_store = cache_store
        self.instance_discovery = instance_discovery
        self.sleep = sleep
        self._tokens = {}
        self._cache = None
        self._http_cache = MetadataHttpCache()
        self.requests_made = 0  # token requests this process sent (tests and benchmarks read it)
        self._lock = threading.RLock()  # a read phase reads several environments at once, one thread each

    @classmethod
    def from_params(cls, params, authority_host, session, instance_discovery=True):
        credential = select_credential(params)
        store = None
        if params.get("token_cache", TOKEN_CACHE):
            # The credential's fingerprint is part of the key: tokens issued to a secret that was
            # since changed or revoked must not keep a wrong secret "working".
            key = cache_key(authority_host, credential.tenant_id, "%s:%s" % (credential.name, credential.client_id),
                            credential.fingerprint())
            directory, user_supplied = default_cache_dir()
            store = FileTokenCache(directory, key, user_supplied=user_supplied)
        return cls(credential, authority_host, session, timeout=params.get("timeout") or TIMEOUT,
                   max_retries=params.get("max_retries", MAX_RETRIES), cache_store=store,
                   instance_discovery=instance_discovery)

    # -- public -----------------------------------------------------------------------

    def get_token(self, scope, force_refresh=False):
        token = None if force_refresh else self._tokens.get(scope)  # held already: no lock needed to read it
        if token:
            return token
        with self._lock:
            return self._get_token(scope, force_refresh)

    def _get_token(self, scope, force_refresh):
        if not force_refresh and scope in self._tokens:
            return self._tokens[scope]
        if not force_refresh and self._cache is None:
            stored = self._stored_token(scope)
            if stored:
                self._tokens[scope] = stored
                return stored
        rejected = set()  # a forced refresh: the tokens the service refused, wherever they are found again
        if force_refresh:
            rejected.add(self._tokens.pop(scope, None))
            if self._cache is not None:  # what we hold in memory; the file may meanwhile hold a newer one
                rejected.update(item.get("secret") for item in self.credential.cached_entries(self._cache, scope))
            rejected.discard(None)
        cache = self._token_cache()
        if not force_refresh:
            cached = self.credential.cached_token(cache, scope)
            if cached:
                self._tokens[scope] = cached
                return cached
        with self._acquisition_lock(scope):
            # Held (or waited for in vain): the process before us may have saved the token meanwhile.
            cache = self._reload()
            for item in self.credential.cached_entries(cache, scope):
                if item.get("secret") in rejected:
                    cache.remove_at(item)
            token = self.credential.cached_token(cache, scope)
            if not token:
                token = self._acquire(scope)
            self._persist(cache)  # before the lock is released: the next holder finds the token
        self._tokens[scope] = token
        return token

    # -- cache ------------------------------------------------------------------------

    def _stored_token(self, scope):
        """A fresh token straight from the cache file, read without msal; None: ask msal (_token_cache)."""
        serialized = self.cache_store.load() if self.cache_store else None
        try:
            state = json.loads(serialized) if serialized else None
        except ValueError:
            return None
        return fresh_secret(self.credential.stored_entries(state, scope)) if state else None

    def _token_cache(self):
        if self._cache is None:
            msal = load_msal()
            self._cache = msal.SerializableTokenCache()
            serialized = self.cache_store.load() if self.cache_store else None
            if serialized:
                try:
                    self._cache.deserialize(serialized)
                except ValueError:
                    self._cache = msal.SerializableTokenCache()  # corrupt file: start afresh
        return self._cache

    def _acquisition_lock(self, scope):
        """Context manager: held while this process asks for scope's token (see FileTokenCache.acquiring:
        past its deadline, or without a usable lock file, the body runs without it)."""
        if self.cache_store is None:
            return contextlib.nullcontext(False)  # no shared file: nobody to share the token with
        return self.cache_store.acquiring(scope)

    def _reload(self):
        """The persisted cache as it is now, replacing ours: everything we saved is in it, merged
        with what others saved since (no unsaved change of ours is pending here)."""
        serialized = self.cache_store.load() if self.cache_store else None
        if serialized:
            fresh = load_msal().SerializableTokenCache()
            try:
                fresh.deserialize(serialized)
            except ValueError:
                return self._token_cache()  # corrupt file: keep ours, the next save replaces it
            self._cache = fresh
        return self._token_cache()

    def _persist(self, cache):
        if self.cache_store and cache.has_state_changed:
            try:
                self.cache_store.save(cache.serialize())
            except OSError:
                # A read-only home (some execution environments) only costs later tasks a token request.
                self.cache_store = None
            cache.has_state_changed = False

    # -- acquisition ------------------------------------------------------------------

    def _acquire(self, scope):
        """Ask the identity platform; transient failures get a fresh msal app each try,
        because msal replays a cached 5xx/429 answer from its in-memory http cache."""
        budget = RetryBudget(self.max_retries, max_total_wait=120, sleep=self.sleep)
        cache = self._token_cache()
        while True:
            result, failure = self._try_once(cache, scope)
            if result and "access_token" in result:
                return result["access_token"]
            if result and result.get("error") not in TRANSIENT_AUTH_ERRORS:
                raise self._auth_error(result, scope)
            if not budget.wait():
                if result:
                    raise self._auth_error(result, scope)
                raise AuthError("Could not get a token for %s after %d tries: %s. Check that authority_host "
                                "is reachable (proxy, CA bundle REQUESTS_CA_BUNDLE)." % (
                                    scope, budget.attempt + 1, failure))

    def _try_once(self, cache, scope):
        """(msal result, None) or (None, transient failure text)."""
        self.requests_made += 1
        settings = AppSettings(self.authority, self.session, self.timeout, self.instance_discovery, self._http_cache)
        try:
            app = self.credential.new_app(cache, settings)
        except ConfigError:
            raise  # the session cannot use the proxy or CA settings: retrying cannot mend that
        except (ValueError, TypeError) as exc:
            raise AuthError(self.credential.unusable(exc) or (
                "The authority %s is not usable: %s. authority_host must be an https:// URL serving OpenID "
                "metadata for tenant_id." % (self.authority, scrub_queries(exc)))) from None
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Only the class name: exception text may echo request data.
            return None, "%s reaching %s" % (getattr(exc, "kind", None) or exc.__class__.__name__, self.authority)
        try:
            return self.credential.acquire(app, scope), None
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise AuthError(self.credential.unusable(exc) or (
                "Token request for %s failed: %s." % (scope, exc.__class__.__name__))) from None
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # No answer (session.TransportFailure) and msal's MsalServiceError (5xx) are transient.
            return None, "%s reaching %s" % (getattr(exc, "kind", None) or exc.__class__.__name__, self.authority)

    def _auth_error(self, result, scope):
        description = (result.get("error_description") or "").strip()
        code = next((c for c in AADSTS_HINTS if c in description), None)
        hint = AADSTS_HINTS.get(code)
        message = "Entra ID refused a token for %s with client %s (%s): %s" % (
            scope, self.credential.client_id or "managed identity", result.get("error"),
            scrub_queries(description.splitlines()[0]) if description else "no description")
        if hint:
            message += " Fix: %s." % hint
        return AuthError(message, error=result.get("error"), correlation_id=result.get("correlation_id"))


def default_instance_discovery(authority_host, cloud_authority_host):
    """msal's instance discovery only knows Microsoft hosts; skip it for overrides."""
    return authority_host.rstrip("/").lower() == cloud_authority_host.rstrip("/").lower()

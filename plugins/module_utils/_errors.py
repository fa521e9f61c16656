# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""One exception hierarchy for the collection.

Clients raise these; only a module's main() turns them into fail_json (see _module.py),
so messages must be complete sentences that name the fix, and must never hold a secret.
"""

from __future__ import annotations

import copy

# A server error or no answer at all: a write may or may not have been applied.
OUTCOME_UNKNOWN_STATUS = frozenset((500, 502, 503, 504))


class D365Error(Exception):
    """Base class: anything the collection reports as a task failure."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    @property
    def outcome_unknown(self):
        """True when a write that raised this may still have been applied (re-read before sending again)."""
        return False

    def with_message(self, message):
        """The same error (type and every field) with another message, e.g. the fix added."""
        other = copy.copy(self)
        other.message = message
        other.args = (message,)
        return other

    def with_fix(self, fix):
        return self.with_message("%s Fix: %s." % (self.message.rstrip(), fix.rstrip(".")))

    def to_result(self):
        """Fields added to fail_json next to msg."""
        return {}


class ConfigError(D365Error):
    """Options are missing or invalid; detected before any network call."""


class AuthError(D365Error):
    """The identity platform refused to issue a token."""

    def __init__(self, message, error=None, correlation_id=None):
        super().__init__(message)
        self.error = error
        self.correlation_id = correlation_id

    def to_result(self):
        return {"error_code": self.error, "correlation_id": self.correlation_id}


class ApiError(D365Error):
    """A Microsoft API answered with an error (after retries, where retrying made sense)."""

    def __init__(self, message, status=None, code=None, service_message=None, request_id=None,
                 method=None, url=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.service_message = service_message
        self.request_id = request_id
        self.method = method
        self.url = url

    transient = None  # set where a caller knows the refusal is worth retrying (a role's until: reads it)

    @property
    def outcome_unknown(self):
        return self.status in OUTCOME_UNKNOWN_STATUS

    def to_result(self):
        return {
            "status": self.status,
            "error_code": self.code,
            "request_id": self.request_id,
            "transient": self.transient,
        }


class NotFoundError(ApiError):
    """404, or a service code that means 'no such object'."""


class ConflictError(ApiError):
    """The object already exists or was changed concurrently."""


class PermissionDeniedError(ApiError):
    """403: the caller lacks a permission; the message names it."""


class TransportError(D365Error):
    """The connection failed before an answer arrived.

    For a write the request may or may not have been applied: callers re-read before
    sending it again (entra_user does this for creates).
    """

    def __init__(self, message, method=None, url=None):
        super().__init__(message)
        self.method = method
        self.url = url

    @property
    def outcome_unknown(self):
        return True


class CheckModeWriteError(D365Error):
    """A module tried to write while running in check mode; the HTTP core refused to send it."""

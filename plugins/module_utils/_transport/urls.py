# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""URL rules shared by every client: https only, bases may carry a path prefix."""

from __future__ import annotations

from urllib.parse import urlsplit

from .._errors import ConfigError


def https_base(option, url):
    """Validate an https base URL and return it without a trailing slash.

    Checked before any request so a typo (or http://, which msal refuses anyway) fails with
    the option's name instead of a connection error.
    """
    if not url:
        raise ConfigError("Option %s is required." % option)
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            "Option %s must be an https:// URL with a host, got %r." % (option, url))
    if parts.query or parts.fragment:
        raise ConfigError("Option %s must not carry a query or fragment: %r." % (option, url))
    return url.strip().rstrip("/")


def join(base, path):
    """base 'https://h/prefix' + path 'v1.0/users' -> 'https://h/prefix/v1.0/users'."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def resource_scope(url):
    """The '.default' scope of a resource URL (Dataverse: the environment URL itself)."""
    return url.rstrip("/") + "/.default"

# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""OData literals shared by Graph and Dataverse: GUIDs (unquoted, validated) and quoted strings
(https://learn.microsoft.com/odata/webapi/first-odata-api and OData ABNF: '' escapes a quote)."""

from __future__ import annotations

import re

from ._errors import ConfigError

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def is_guid(value):
    return bool(value) and bool(GUID_RE.match(str(value).strip()))


def guid(value, what="id"):
    """Validated lower-case GUID: OData filters take GUIDs unquoted, so never pass raw text."""
    if not value or not GUID_RE.match(str(value)):
        raise ConfigError("%s must be a GUID, got %r." % (what, value))
    return str(value).lower()


def quote(value):
    """An OData string literal: single quotes, a quote inside doubled."""
    return "'" + str(value).replace("'", "''") + "'"

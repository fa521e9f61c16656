# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The collection version, sent in every User-Agent."""

from __future__ import annotations

COLLECTION_VERSION = "0.3.0"
USER_AGENT = "d365.identity/" + COLLECTION_VERSION

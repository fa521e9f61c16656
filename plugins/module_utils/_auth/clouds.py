# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Microsoft cloud endpoints (https://learn.microsoft.com/graph/deployments,
https://learn.microsoft.com/power-apps/developer/data-platform/discovery-service).

Tokens never cross clouds, so the Graph and admin-API scopes come from this table even when
a URL is overridden (for a proxy or the tenant emulator).
"""

from __future__ import annotations

from collections import namedtuple

from .._connection import CLOUD_ENVIRONMENT
from .._errors import ConfigError

Cloud = namedtuple("Cloud", "name authority_host graph_url graph_scope admin_api_url admin_api_scope")

CLOUDS = {
    "public": Cloud(
        "public", "https://login.microsoftonline.com", "https://graph.microsoft.com",
        "https://graph.microsoft.com/.default", "https://api.bap.microsoft.com",
        "https://service.powerapps.com/.default"),
    # GCC keeps the worldwide login and Graph endpoints (Graph deployments doc).
    "gcc": Cloud(
        "gcc", "https://login.microsoftonline.com", "https://graph.microsoft.com",
        "https://graph.microsoft.com/.default", "https://gov.api.bap.microsoft.us",
        "https://service.powerapps.us/.default"),
    "gcc_high": Cloud(
        "gcc_high", "https://login.microsoftonline.us", "https://graph.microsoft.us",
        "https://graph.microsoft.us/.default", "https://high.api.bap.microsoft.us",
        "https://high.service.apps.appsplatform.us/.default"),
    "dod": Cloud(
        "dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us",
        "https://dod-graph.microsoft.us/.default", "https://api.bap.appsplatform.us",
        "https://service.apps.appsplatform.us/.default"),
    # msal marks login.chinacloudapi.cn deprecated; the partner host is its successor.
    "china": Cloud(
        "china", "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn/.default", "https://api.bap.partner.microsoftonline.cn",
        "https://service.powerapps.cn/.default"),
}

# Names used by AWX's Azure credential and the Azure SDKs (AZURE_CLOUD_ENVIRONMENT).
ALIASES = {
    "azurecloud": "public",
    "azurepubliccloud": "public",
    "azureusgovernment": "gcc_high",
    "azureusgovernmentcloud": "gcc_high",
    "azurechinacloud": "china",
}

CHOICES = sorted(CLOUDS)


def resolve_cloud(name):
    """Return the Cloud for a name or alias, case-insensitively."""
    key = (name or CLOUD_ENVIRONMENT).strip().lower()
    key = ALIASES.get(key, key)
    if key not in CLOUDS:
        raise ConfigError(
            "cloud_environment %r is not known; use one of %s (or AzureCloud, AzureUSGovernment, "
            "AzureChinaCloud)." % (name, ", ".join(CHOICES)))
    return CLOUDS[key]

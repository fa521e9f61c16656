# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Connection options: which cloud and endpoints, how long to wait, how often to retry.

Each default is defined here once. CONNECTION_ARGSPEC uses it, and so do the constructors
of ApiClient and TokenProvider (for callers that are not modules). Credential options are
AUTH_ARGSPEC (_auth/provider.py); Dataverse's are DATAVERSE_ARGSPEC (_clients/dataverse.py).
Documented by the d365.identity._auth doc fragment.
"""

from __future__ import annotations

from ansible.module_utils.common.parameters import env_fallback

CLOUD_ENVIRONMENT = "public"
TIMEOUT = 30  # seconds for each HTTP answer, from the services and from the identity platform
MAX_RETRIES = 6

CONNECTION_ARGSPEC = {
    "cloud_environment": {"type": "str", "default": CLOUD_ENVIRONMENT,
                          "fallback": (env_fallback, ["AZURE_CLOUD_ENVIRONMENT"])},
    "authority_host": {"type": "str", "fallback": (env_fallback, ["AZURE_AUTHORITY_HOST"])},
    "graph_url": {"type": "str", "fallback": (env_fallback, ["D365_GRAPH_URL"])},
    "admin_api_url": {"type": "str", "fallback": (env_fallback, ["D365_ADMIN_API_URL"])},
    "timeout": {"type": "int", "default": TIMEOUT},
    "max_retries": {"type": "int", "default": MAX_RETRIES},
}

# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""D365Module: merges the shared argument specs (credentials, connection, Dataverse), builds
clients, reports D365Error once.

It only wires plain option values into the clients; the clients never see the module.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ._auth.credentials import HAS_MSAL, MSAL_IMPORT_ERROR
from ._auth.provider import AUTH_ARGSPEC, TokenProvider, default_instance_discovery
from ._auth.clouds import resolve_cloud
from ._clients.dataverse import DATAVERSE_ARGSPEC, DataverseClient
from ._connection import CONNECTION_ARGSPEC, TIMEOUT
from ._errors import ConfigError, D365Error
from ._transport.backoff import SharedBackoff
from ._transport.http import new_session
from ._transport.urls import https_base, resource_scope


class D365Module(AnsibleModule):
    def __init__(self, argument_spec=None, dataverse=False, **kwargs):
        spec = dict(AUTH_ARGSPEC, **CONNECTION_ARGSPEC)
        if dataverse:
            spec.update(DATAVERSE_ARGSPEC)
        spec.update(argument_spec or {})
        # No secret/certificate exclusivity: AWX may inject both; auth_method auto prefers the secret.
        super().__init__(argument_spec=spec, **kwargs)
        if not HAS_MSAL:
            self.fail_json(msg=missing_required_lib("msal"), exception=MSAL_IMPORT_ERROR)
        self._session = None
        self._tokens = None

    # -- settings -------------------------------------------------------------------------

    @property
    def cloud(self):
        return resolve_cloud(self.params.get("cloud_environment"))

    def authority_host(self):
        host = self.params.get("authority_host")
        if host and "://" not in host:
            host = "https://" + host  # azure-identity accepts a bare host in AZURE_AUTHORITY_HOST
        return https_base("authority_host", host or self.cloud.authority_host)

    def session(self):
        if self._session is None:
            self._session = self.new_session()
        return self._session

    def new_session(self):
        """A session of its own: for msal, and for each thread of a read done for several environments at once."""
        return new_session(self.params.get("timeout") or TIMEOUT)

    def token_provider(self):
        if self._tokens is None:
            host = self.authority_host()
            self._tokens = TokenProvider.from_params(
                self.params, host, self.new_session(),
                instance_discovery=default_instance_discovery(host, self.cloud.authority_host))
        return self._tokens

    def _client_kwargs(self, session=None):
        tokens = self.token_provider()
        store = getattr(tokens, "cache_store", None)  # no token cache file: no shared Retry-After either
        return {"token_provider": tokens, "session": session or self.session(),
                "timeout": self.params["timeout"], "max_retries": self.params["max_retries"],
                "check_mode": self.check_mode, "backoff": SharedBackoff(store) if store else None}

    # -- clients ----------------------------------------------------------------------------

    def graph_client(self):
        base = https_base("graph_url", self.params.get("graph_url") or self.cloud.graph_url)
        from ._clients.graph import GraphClient  # imported when used: a Dataverse-only task need not compile it

        return GraphClient(base, self.cloud.graph_scope, **self._client_kwargs())

    def admin_api_client(self):
        base = https_base("admin_api_url", self.params.get("admin_api_url") or self.cloud.admin_api_url)
        from ._clients.admin_api import AdminApiClient  # imported when used, as GraphClient

        return AdminApiClient(base, self.cloud.admin_api_scope, **self._client_kwargs())

    def dataverse_client(self, environment_url=None, session=None):
        url = environment_url or self.params.get("environment_url")
        if not url:
            raise ConfigError("environment_url is required (or D365_ENVIRONMENT_URL), e.g. "
                              "https://contoso.crm.dynamics.com.")
        url = https_base("environment_url", url)
        # The environment URL is the Dataverse resource: its scope is '<url>/.default'.
        return DataverseClient(url, resource_scope(url), api_version=self.params.get("dataverse_api_version"),
                               **self._client_kwargs(session))

    # -- outcome --------------------------------------------------------------------------

    def fail_from_error(self, error):
        """The one place a D365Error becomes a task failure."""
        fields = {k: v for k, v in error.to_result().items() if v is not None}
        self.fail_json(msg=error.message, exception=traceback.format_exc(), **fields)


def run_module(module, run):
    """module.exit_json(**run(module)), reporting any D365Error through fail_from_error."""
    try:
        result = run(module)
    except D365Error as error:
        module.fail_from_error(error)
    module.exit_json(**result)

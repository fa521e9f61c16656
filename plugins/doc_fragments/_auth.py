# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Credential options (AUTH_ARGSPEC, plugins/module_utils/_auth/provider.py, built from the strategies in
    # _auth/credentials.py) and connection options (CONNECTION_ARGSPEC, plugins/module_utils/_connection.py):
    # D365Module merges both into every module. The defaults here repeat those constants; sanity and
    # tests/unit/plugins/module_utils/test_auth_options.py check that they agree.
    DOCUMENTATION = r"""
options:
  tenant_id:
    description:
      - Entra ID tenant (directory) id or primary domain.
      - If not set, the environment variable E(AZURE_TENANT_ID), then E(AZURE_TENANT), is used.
    type: str
    aliases: [tenant]
  client_id:
    description:
      - Application (client) id of the app registration the collection signs in as.
      - With O(auth_method=managed_identity), the client id of a user-assigned managed identity.
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - Client secret of the app registration.
      - If not set, the environment variable E(AZURE_CLIENT_SECRET), then E(AZURE_SECRET), is used.
    type: str
    aliases: [secret]
  client_certificate_path:
    description:
      - Path to a PEM file holding the private key and the certificate of the app registration.
      - The certificate thumbprint is computed; it does not need to be given.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used.
    type: path
    aliases: [x509_certificate_path]
  client_certificate_password:
    description:
      - Password of an encrypted private key in O(client_certificate_path).
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PASSWORD) is used.
    type: str
  auth_method:
    description:
      - How to obtain tokens.
      - V(auto) uses O(client_secret) when set, else O(client_certificate_path), else fails naming what is missing.
      - V(managed_identity) uses the managed identity of the host the module runs on.
    type: str
    default: auto
    choices: [auto, client_secret, certificate, managed_identity]
  cloud_environment:
    description:
      - Microsoft cloud. Picks the login host, Microsoft Graph and the Power Platform admin API, and their token scopes.
      - V(AzureCloud), V(AzureUSGovernment) and V(AzureChinaCloud), as AWX's Azure credential sets them, are accepted.
      - If not set, the environment variable E(AZURE_CLOUD_ENVIRONMENT) is used.
    type: str
    default: public
  authority_host:
    description:
      - Override of the Entra ID login host, for example a proxy or a test tenant emulator. Must be C(https://).
      - If not set, the environment variable E(AZURE_AUTHORITY_HOST), then the cloud's login host, is used.
    type: str
  graph_url:
    description:
      - Override of the Microsoft Graph base URL; calls go to C({graph_url}/v1.0/...). Must be C(https://).
      - Token scopes still follow O(cloud_environment).
      - If not set, the environment variable E(D365_GRAPH_URL), then the cloud's Graph host, is used.
    type: str
  admin_api_url:
    description:
      - Override of the Power Platform admin API base URL. Must be C(https://).
      - If not set, the environment variable E(D365_ADMIN_API_URL), then the cloud's host, is used.
    type: str
  timeout:
    description: Seconds to wait for each HTTP answer.
    type: int
    default: 30
  max_retries:
    description:
      - How often a throttled (429) or unavailable (503, 504) request is retried, honouring C(Retry-After).
      - Reads are also retried after 500, 502 and dropped connections.
    type: int
    default: 6
  token_cache:
    description:
      - Keep tokens in a private cache file (mode 0600) so that later tasks reuse them.
      - The directory is E(D365_TOKEN_CACHE_DIR), else C(~/.cache/d365.identity/tokens).
        A directory the collection creates is made mode 0700; an existing E(D365_TOKEN_CACHE_DIR) keeps its mode.
      - There is one file per tenant, client and credential; a changed secret or certificate does not reuse tokens.
      - Cache files not owned by the user running the module, or readable by group or others, are ignored.
      - Parallel tasks (forks, concurrent jobs) share the files safely. An unusable directory only turns caching off.
    type: bool
    default: true
notes:
  - Options falling back to environment variables read the environment of the host the module runs on (usually localhost).
  - The environment variable names are those AWX's C(Microsoft Azure Resource Manager) credential injects.
requirements:
  - msal >= 1.35.0
  - requests >= 2.25.0 (msal fetches tokens with it; the modules talk to the APIs over the Python standard library)
"""

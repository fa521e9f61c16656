# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, ConfigError
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.tests.unit.fakes.identity import AUTH_ARGS
from ansible_collections.d365.identity.tests.unit.fakes.tenant import run_task

SECRET = "env-secret-value-123"


def make(args=None, **kwargs):
    with patch_module_args(args or {}):
        return D365Module(supports_check_mode=True, **kwargs)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("AZURE_TENANT_ID", "AZURE_TENANT", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SECRET",
                 "AZURE_CLOUD_ENVIRONMENT", "AZURE_AUTHORITY_HOST", "D365_GRAPH_URL", "D365_ADMIN_API_URL",
                 "D365_ENVIRONMENT_URL"):
        monkeypatch.delenv(name, raising=False)


def test_awx_azure_credential_names(monkeypatch):
    # AWX's "Microsoft Azure Resource Manager" credential injects these second-choice names.
    monkeypatch.setenv("AZURE_TENANT", "tenant-awx")
    monkeypatch.setenv("AZURE_CLIENT_ID", "client-awx")
    monkeypatch.setenv("AZURE_SECRET", SECRET)
    monkeypatch.setenv("AZURE_CLOUD_ENVIRONMENT", "AzureUSGovernment")
    module = make()
    assert module.params["tenant_id"] == "tenant-awx"
    assert module.params["client_secret"] == SECRET
    assert SECRET in module.no_log_values  # masked in any output
    assert module.cloud.name == "gcc_high"


def test_first_env_name_wins(monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", "primary")
    monkeypatch.setenv("AZURE_TENANT", "secondary")
    assert make().params["tenant_id"] == "primary"


def test_explicit_option_beats_env(monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", "env")
    assert make({"tenant_id": "explicit"}).params["tenant_id"] == "explicit"


def test_graph_scope_does_not_follow_override_url():
    module = make({"tenant_id": "t", "client_id": "c", "client_secret": SECRET,
                   "graph_url": "https://127.0.0.1:9443/graph", "admin_api_url": "https://127.0.0.1:9443/bap",
                   "authority_host": "https://127.0.0.1:9443"})
    graph = module.graph_client()
    assert graph.url("users") == "https://127.0.0.1:9443/graph/v1.0/users"
    assert graph.scope == "https://graph.microsoft.com/.default"
    admin = module.admin_api_client()
    assert admin.url("scopes/admin/environments") == \
        "https://127.0.0.1:9443/bap/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
    assert admin.scope == "https://service.powerapps.com/.default"
    assert module.token_provider().instance_discovery is False  # non-Microsoft authority


def test_cloud_defaults_and_instance_discovery():
    module = make({"tenant_id": "t", "client_id": "c", "client_secret": SECRET, "cloud_environment": "china"})
    assert module.graph_client().url("users") == "https://microsoftgraph.chinacloudapi.cn/v1.0/users"
    assert module.token_provider().authority == "https://login.partner.microsoftonline.cn/t"
    assert module.token_provider().instance_discovery is True


def test_dataverse_scope_and_headers(monkeypatch):
    monkeypatch.setenv("D365_ENVIRONMENT_URL", "https://contoso.crm4.dynamics.com/")
    module = make({"tenant_id": "t", "client_id": "c", "client_secret": SECRET}, dataverse=True)
    client = module.dataverse_client()
    assert client.scope == "https://contoso.crm4.dynamics.com/.default"
    assert client.url("WhoAmI()") == "https://contoso.crm4.dynamics.com/api/data/v9.2/WhoAmI()"
    assert client.default_headers["OData-Version"] == "4.0"


def test_http_urls_refused_before_any_request():
    module = make({"tenant_id": "t", "client_id": "c", "client_secret": SECRET, "graph_url": "http://localhost"})
    with pytest.raises(ConfigError, match="graph_url must be an https"):
        module.graph_client()


def test_dataverse_needs_environment_url():
    module = make({"tenant_id": "t", "client_id": "c", "client_secret": SECRET}, dataverse=True)
    with pytest.raises(ConfigError, match="D365_ENVIRONMENT_URL"):
        module.dataverse_client()


def test_graph_modules_do_not_take_environment_url():
    result = run_task(D365Module, {"environment_url": "https://x"})
    assert result["failed"] is True and "Unsupported parameters" in result["msg"] and "environment_url" in result["msg"]


def test_run_module_reports_api_error_fields():
    def run(_module):
        raise ApiError("Graph POST /v1.0/users failed: HTTP 400 Request_BadRequest: bad (request-id r-1)",
                       status=400, code="Request_BadRequest", request_id="r-1")

    result = run_task(lambda: run_module(D365Module(), run), AUTH_ARGS)
    assert result["failed"] and result["status"] == 400 and result["request_id"] == "r-1"
    assert result["error_code"] == "Request_BadRequest" and "HTTP 400" in result["msg"]


def test_a_module_that_writes_in_check_mode_is_refused_by_the_http_core(tenant):
    # A forgotten check-mode branch must not write: the clients of a check-mode task refuse to send.
    user = tenant.graph.add_user({"id": "11111111-2222-3333-4444-555555555555", "userPrincipalName": "svc@contoso.com",
                                  "displayName": "Svc"})

    def buggy_run(module):
        module.graph_client().update_user(user["id"], {"displayName": "x"})
        return {"changed": True}

    result = tenant.run(lambda: run_module(D365Module(supports_check_mode=True), buggy_run), check=True)
    assert result["failed"] is True and "check mode" in result["msg"]
    assert tenant.graph.requests == [] and tenant.graph.user(user["id"])["displayName"] == "Svc"

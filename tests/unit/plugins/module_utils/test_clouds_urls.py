# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._auth.clouds import CLOUDS, resolve_cloud
from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError
from ansible_collections.d365.identity.plugins.module_utils._transport.urls import https_base, join, resource_scope


@pytest.mark.parametrize("name, expected", [
    ("AzureCloud", "public"), ("azurecloud", "public"), ("AzureUSGovernment", "gcc_high"),
    ("AzureChinaCloud", "china"), ("GCC", "gcc"), ("dod", "dod"), (None, "public"),
])
def test_cloud_names_and_awx_aliases(name, expected):
    assert resolve_cloud(name).name == expected


def test_unknown_cloud_lists_choices():
    with pytest.raises(ConfigError, match="gcc_high"):
        resolve_cloud("moon")


def test_cloud_table_values_from_fact_sheet():
    assert CLOUDS["public"].graph_scope == "https://graph.microsoft.com/.default"
    assert CLOUDS["public"].admin_api_scope == "https://service.powerapps.com/.default"
    assert CLOUDS["gcc"].graph_url == "https://graph.microsoft.com"  # GCC keeps worldwide Graph
    assert CLOUDS["gcc_high"].authority_host == "https://login.microsoftonline.us"
    assert CLOUDS["dod"].graph_url == "https://dod-graph.microsoft.us"
    assert CLOUDS["china"].admin_api_url == "https://api.bap.partner.microsoftonline.cn"
    for cloud in CLOUDS.values():
        for url in (cloud.authority_host, cloud.graph_url, cloud.admin_api_url):
            assert url.startswith("https://") and not url.endswith("/")
        assert cloud.graph_scope == cloud.graph_url + "/.default"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8443", "ftp://x", "graph.microsoft.com", "https://", "",
                                 "https://h/x?y=1"])
def test_only_https_bases(url):
    with pytest.raises(ConfigError, match="graph_url"):
        https_base("graph_url", url)


def test_base_with_path_prefix():
    base = https_base("graph_url", "https://127.0.0.1:8443/graph/")
    assert base == "https://127.0.0.1:8443/graph"
    assert join(base, "v1.0/users") == "https://127.0.0.1:8443/graph/v1.0/users"


def test_dataverse_scope_is_environment_url_without_trailing_slash():
    assert resource_scope("https://contoso.crm4.dynamics.com/") == "https://contoso.crm4.dynamics.com/.default"

# SPDX-License-Identifier: GPL-3.0-or-later
"""Credential, connection and Dataverse options: each defined once, documented as defined, and the
defaults of the argspecs are the defaults of the classes that non-module callers construct."""

from __future__ import annotations

import re

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.doc_fragments import _auth as auth_fragment
from ansible_collections.d365.identity.plugins.doc_fragments import _dataverse as dataverse_fragment
from ansible_collections.d365.identity.plugins.module_utils._auth.clouds import resolve_cloud
from ansible_collections.d365.identity.plugins.module_utils._auth.credentials import select_credential
from ansible_collections.d365.identity.plugins.module_utils._auth.provider import AUTH_ARGSPEC, TokenProvider
from ansible_collections.d365.identity.plugins.module_utils._clients.dataverse import DATAVERSE_ARGSPEC, DataverseClient
from ansible_collections.d365.identity.plugins.module_utils._connection import CONNECTION_ARGSPEC
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module
from ansible_collections.d365.identity.plugins.module_utils._transport.http import ApiClient
from ansible_collections.d365.identity.tests.unit.fakes.identity import FakeTokens

SECRET = "options-secret-value-1"
CREDENTIALS = {"tenant_id": "t", "client_id": "c", "client_secret": SECRET}


def documented(fragment):
    return yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["options"]


def default(spec, name):
    return spec[name]["default"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for specs in (AUTH_ARGSPEC, CONNECTION_ARGSPEC, DATAVERSE_ARGSPEC):
        for spec in specs.values():
            for variable in spec.get("fallback", (None, []))[1]:
                monkeypatch.delenv(variable, raising=False)


def test_auth_argspec_holds_credentials_only():
    assert not set(AUTH_ARGSPEC) & set(CONNECTION_ARGSPEC)
    assert not set(AUTH_ARGSPEC) & set(DATAVERSE_ARGSPEC) and not set(CONNECTION_ARGSPEC) & set(DATAVERSE_ARGSPEC)
    for name in ("timeout", "max_retries", "cloud_environment", "authority_host", "graph_url", "admin_api_url"):
        assert name in CONNECTION_ARGSPEC and name not in AUTH_ARGSPEC


@pytest.mark.parametrize("fragment, specs", [
    (auth_fragment, (AUTH_ARGSPEC, CONNECTION_ARGSPEC)),
    (dataverse_fragment, (DATAVERSE_ARGSPEC,)),
])
def test_fragments_document_the_argspecs(fragment, specs):
    spec = {}
    for part in specs:
        spec.update(part)
    docs = documented(fragment)
    assert sorted(docs) == sorted(spec)
    for name, option in spec.items():
        doc = docs[name]
        assert doc["type"] == option["type"], name
        assert doc.get("default") == option.get("default"), name
        assert doc.get("choices") == option.get("choices"), name
        assert doc.get("aliases") == option.get("aliases"), name
        text = " ".join(doc["description"]) if isinstance(doc["description"], list) else doc["description"]
        for variable in option.get("fallback", (None, []))[1]:
            assert "E(%s)" % variable in text, (name, variable)  # env fallbacks documented, in order
        named = re.findall(r"E\((\w+)\)", text)
        assert [v for v in named if v in option.get("fallback", (None, []))[1]] == option.get("fallback", (None, []))[1]


def test_class_defaults_are_the_argspec_defaults():
    client = ApiClient("https://api.example", "https://api.example/.default", FakeTokens(), None)
    assert client.timeout == default(CONNECTION_ARGSPEC, "timeout")
    assert client.max_retries == default(CONNECTION_ARGSPEC, "max_retries")
    tokens = TokenProvider(select_credential(CREDENTIALS), "https://login.example", None)
    assert (tokens.timeout, tokens.max_retries) == (client.timeout, client.max_retries)
    assert TokenProvider.from_params(dict(CREDENTIALS, token_cache=False), "https://login.example", None).timeout == \
        default(CONNECTION_ARGSPEC, "timeout")
    dataverse = DataverseClient("https://org.example", "https://org.example/.default", FakeTokens(), None)
    assert dataverse.api_version == default(DATAVERSE_ARGSPEC, "dataverse_api_version")
    assert resolve_cloud(None).name == default(CONNECTION_ARGSPEC, "cloud_environment")


def test_module_without_options_uses_the_defaults():
    with patch_module_args(dict(CREDENTIALS, environment_url="https://org.example")):
        module = D365Module(dataverse=True)
    for client in (module.graph_client(), module.admin_api_client(), module.dataverse_client()):
        assert client.timeout == default(CONNECTION_ARGSPEC, "timeout")
        assert client.max_retries == default(CONNECTION_ARGSPEC, "max_retries")
    assert module.dataverse_client().base_url == "https://org.example/api/data/" + default(
        DATAVERSE_ARGSPEC, "dataverse_api_version")
    tokens = module.token_provider()
    assert (tokens.timeout, tokens.max_retries) == (30, 6)
    assert tokens.cache_store is not None  # token_cache defaults to true


def test_module_options_reach_clients_and_token_provider():
    args = dict(CREDENTIALS, environment_url="https://org.example", timeout=5, max_retries=2,
                dataverse_api_version="v9.1", token_cache=False)
    with patch_module_args(args):
        module = D365Module(dataverse=True)
    client = module.dataverse_client()
    assert (client.timeout, client.max_retries, client.api_version) == (5, 2, "v9.1")
    tokens = module.token_provider()
    assert (tokens.timeout, tokens.max_retries, tokens.cache_store) == (5, 2, None)


def test_empty_api_version_and_zero_token_timeout_keep_their_0_2_meaning():
    with patch_module_args(dict(CREDENTIALS, environment_url="https://org.example", dataverse_api_version="",
                                timeout=0)):
        module = D365Module(dataverse=True)
    assert module.dataverse_client().api_version == "v9.2"
    assert module.token_provider().timeout == 30

# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import (
    ACCESS_MODE_NAMES, ACCESS_MODES, access_mode_name, identifier_filter, match_roles, systemuser_dict, users_filter)

ROLES = [
    {"roleid": "r1", "name": "Systemadministrator", "_roletemplateid_value": "627090FF-40A3-4053-8790-584EDC5BE201",
     "_businessunitid_value": "bu"},
    {"roleid": "r2", "name": "Basic User", "_roletemplateid_value": "236750cd-45ae-4939-ab12-b24b920ced93",
     "_businessunitid_value": "bu"},
    {"roleid": "r3", "name": "Custom", "_roletemplateid_value": None, "_businessunitid_value": "bu"},
]


def test_access_modes_match_the_fact_sheet():
    assert ACCESS_MODES == {"read_write": 0, "administrative": 1, "read": 2, "support_user": 3,
                            "non_interactive": 4, "delegated_admin": 5}
    assert ACCESS_MODE_NAMES[4] == "non_interactive"
    assert access_mode_name(9) == "unknown_9" and access_mode_name(None) is None


def test_identifier_filters():
    # a GUID is an Entra object id or a systemuserid: GUIDs do not collide, one filter matches either
    assert identifier_filter({"identity": " D13678C3-9C30-4A2F-983A-5E6E5DBC3C5F"}) == \
        "(azureactivedirectoryobjectid eq d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f or " \
        "systemuserid eq d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f)"
    assert identifier_filter({"identity": "o'brien@contoso.com"}) == "domainname eq 'o''brien@contoso.com'"
    assert identifier_filter({"identity": "x' or 1 eq 1"}) == "domainname eq 'x'' or 1 eq 1'"  # quoted, never raw
    assert identifier_filter({}) is None and identifier_filter({"identity": None}) is None
    assert users_filter({}, "read") == "accessmode eq 2"


def test_systemuser_dict_names_mode_and_sorts_roles():
    row = {"systemuserid": "u", "accessmode": 4, "_businessunitid_value": "bu", "isdisabled": False,
           "systemuserroles_association": [ROLES[1], ROLES[0]]}
    user = systemuser_dict(row)
    assert user["access_mode"] == "non_interactive" and user["businessunitid"] == "bu"
    assert [r["name"] for r in user["roles"]] == ["Basic User", "Systemadministrator"]
    assert user["roles"][1]["roletemplateid"] == "627090ff-40a3-4053-8790-584edc5be201"


def test_match_roles_by_template_name_and_system_administrator_in_any_language():
    matched, unknown = match_roles(["System Administrator", "basic user", "236750CD-45AE-4939-AB12-B24B920CED93",
                                    "custom", "Nope"], ROLES)
    assert [r["roleid"] for r in matched] == ["r1", "r2", "r3"]  # duplicates collapse
    assert unknown == ["Nope"]


def test_match_roles_ambiguous_name_fails():
    with pytest.raises(ConfigError, match="matches 2 roles"):
        match_roles(["Basic User"], ROLES + [dict(ROLES[1], roleid="r4")])

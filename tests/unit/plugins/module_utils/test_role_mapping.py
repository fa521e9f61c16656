# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.d365.identity.plugins.module_utils._domain.role_mapping import map_roles, role_key

SYSADMIN = "627090ff-40a3-4053-8790-584edc5be201"
CUSTOMIZER = "119f245c-3cc8-4b62-b31c-d1a046ced15d"
# The roles of business unit "sales": copies of the root roles (same template, own id) and a custom role.
SALES = [
    {"roleid": "s-admin", "name": "System Administrator", "_roletemplateid_value": SYSADMIN.upper(),
     "_businessunitid_value": "sales"},
    {"roleid": "s-cust", "name": "System Customizer", "_roletemplateid_value": CUSTOMIZER,
     "_businessunitid_value": "sales"},
    {"roleid": "s-portal", "name": "Portal Integration", "_roletemplateid_value": None,
     "_businessunitid_value": "sales"},
]


def held(roleid, name, template):
    # as systemuser_dict returns a role of the user (business unit "root")
    return {"roleid": roleid, "name": name, "roletemplateid": template, "businessunitid": "root"}


def test_root_roles_map_by_template_onto_the_copies_of_another_business_unit():
    mapping, unmapped = map_roles([held("r-admin", "Systemadministrator", SYSADMIN),
                                   held("r-cust", "System Customizer", CUSTOMIZER)], SALES)
    assert unmapped == []
    assert [(m["roleid"], m["target_roleid"], m["by"]) for m in mapping] == [
        ("r-admin", "s-admin", "template"), ("r-cust", "s-cust", "template")]
    # a localised name does not matter: the template decides
    assert mapping[0]["name"] == "Systemadministrator" and mapping[0]["target_name"] == "System Administrator"
    assert mapping[0]["target_businessunitid"] == "sales" and mapping[0]["businessunitid"] == "root"


def test_a_custom_role_maps_by_name_and_a_missing_one_is_unmapped():
    portal, missing = held("r-portal", "portal integration", None), held("r-x", "Data Export", None)
    mapping, unmapped = map_roles([portal, missing], SALES)
    assert [(m["target_roleid"], m["by"]) for m in mapping] == [("s-portal", "name")]
    assert unmapped == [missing]
    assert role_key(portal) == "portal integration" and role_key(held("a", "b", SYSADMIN)) == SYSADMIN


def test_no_roles_held_maps_to_nothing():
    assert map_roles([], SALES) == ([], [])

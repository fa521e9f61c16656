# SPDX-License-Identifier: GPL-3.0-or-later
"""The ownership mark in onPremisesExtensionAttributes (module_utils/_domain/ownership.py)."""
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._domain import ownership
from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError

UPN = "svc@contoso.onmicrosoft.com"


def user(attrs=None, synced=None):
    return {"id": "11111111-2222-3333-4444-555555555555", "userPrincipalName": UPN,
            "onPremisesExtensionAttributes": attrs, "onPremisesSyncEnabled": synced}


def test_mark_body_shape():
    assert ownership.mark_body(15) == {"onPremisesExtensionAttributes": {"extensionAttribute15": "d365.identity"}}
    assert ownership.mark_body(3) == {"onPremisesExtensionAttributes": {"extensionAttribute3": "d365.identity"}}


def test_select_reads_the_attributes_and_sync_flag():
    assert set(ownership.SELECT) == {"onPremisesExtensionAttributes", "onPremisesSyncEnabled"}


def test_is_owned():
    assert ownership.is_owned(user({"extensionAttribute15": "d365.identity"}), 15) is True
    assert ownership.is_owned(user({"extensionAttribute15": "d365.identity"}), 14) is False
    assert ownership.is_owned(user({"extensionAttribute15": "D365.Identity "}), 15) is False
    assert ownership.is_owned(user(None), 15) is False
    assert ownership.is_owned({"id": "x"}, 15) is False  # Graph did not return the attributes
    assert ownership.is_owned(None, 15) is False


@pytest.mark.parametrize("attrs", [None, {}, {"extensionAttribute15": None}, {"extensionAttribute15": ""},
                                   {"extensionAttribute1": "Finance"}])
def test_free_attribute_can_be_adopted(attrs):
    assert ownership.adoption_problem(user(attrs), 15) is None
    assert ownership.require_owned(user(attrs), 15, adopt=True, action="update") is True


def test_attribute_conflict_is_never_overwritten():
    taken = user({"extensionAttribute15": "CostCentre-42"})
    problem = ownership.adoption_problem(taken, 15)
    assert problem and "'CostCentre-42'" in problem and "never overwrites" in problem
    assert "owner_attribute" in problem and UPN in problem
    with pytest.raises(ConfigError) as info:
        ownership.require_owned(taken, 15, adopt=True, action="update")
    assert "CostCentre-42" in info.value.message
    # another attribute is free: the operator's fix works
    assert ownership.require_owned(taken, 14, adopt=True, action="update") is True


def test_synced_user_is_refused():
    synced = user({}, synced=True)
    problem = ownership.adoption_problem(synced, 15)
    assert problem and "synchronised from on-premises Active Directory" in problem and "read-only" in problem
    with pytest.raises(ConfigError) as info:
        ownership.require_owned(synced, 15, adopt=True, action="delete")
    assert "on-premises" in info.value.message


def test_owned_user_needs_no_mark():
    owned = user({"extensionAttribute15": "d365.identity"}, synced=True)
    assert ownership.require_owned(owned, 15, adopt=False, action="update") is False


def test_unowned_without_adopt_names_the_fix():
    with pytest.raises(ConfigError) as info:
        ownership.require_owned(user({}), 15, adopt=False, action="delete")
    message = info.value.message
    assert "will not delete it" in message and "adopt: true" in message
    assert "non_interactive_user_adopt: true" in message and "extensionAttribute15" in message

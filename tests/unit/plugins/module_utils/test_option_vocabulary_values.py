# SPDX-License-Identifier: GPL-3.0-or-later
"""One list vocabulary (add/remove/set) and one identity option, read through a real AnsibleModule."""

from __future__ import annotations

import pytest
from ansible.module_utils import _internal as module_internal
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils import _list_values as list_values
from ansible_collections.d365.identity.plugins.module_utils._compare import ChangeTracker
from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError

SPEC = {"roles": list_values.spec(), "state": {"type": "str", "choices": ["present", "absent"]},
        "purge": {"type": "bool"}, **identity.spec(("user_principal_name", "upn"), required=False)}


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(module_internal, "is_controller", False)  # target side: kept, not displayed
    monkeypatch.setattr(warnings, "_global_deprecations", {})
    monkeypatch.setattr(warnings, "_global_warnings", {})


def module(**args):
    with patch_module_args(args):
        return AnsibleModule(argument_spec=SPEC)


def deprecations():
    return [d["msg"] for d in warnings.get_deprecation_messages()]


def read(**args):
    return list_values.read(module(**args), "roles", legacy_purge="purge")


def test_dict_form_has_no_deprecation():
    asked = read(roles={"add": ["Basic User"], "remove": ["Salesperson"]})
    assert (asked.add, asked.remove, asked.set) == (["Basic User"], ["Salesperson"], None)
    assert asked.wanted == ["Basic User", "Salesperson"]
    assert deprecations() == []


def test_set_wins_and_empty_set_clears():
    asked = read(roles={"add": ["A"], "set": []})
    assert asked.set == [] and asked.wanted == [] and bool(asked)


@pytest.mark.parametrize("args, expected", [
    ({"roles": ["A"]}, (["A"], [], None)),
    ({"roles": ["A"], "state": "present"}, (["A"], [], None)),
    ({"roles": ["A"], "state": "absent"}, ([], ["A"], None)),
    ({"roles": ["A"], "purge": True}, ([], [], ["A"])),
    ({"purge": True}, ([], [], [])),  # 0.x: roles=[] with purge removed every role
])
def test_old_list_spelling_still_works_and_warns(args, expected):
    asked = read(**args)
    assert (asked.add, asked.remove, asked.set) == expected
    assert len(deprecations()) == 1
    assert "deprecated" in deprecations()[0] and "roles: {" in deprecations()[0]


def test_state_with_the_dict_form_is_refused():
    with pytest.raises(ConfigError, match="state applies only to the deprecated list spelling"):
        read(roles={"add": ["A"]}, state="absent")


@pytest.mark.parametrize("value, message", [
    ({"grant": ["A"]}, "accepts the keys add, remove and set, not grant"),
    ({"add": [{"name": "A"}]}, "roles.add must be a list of strings"),
])
def test_bad_dict_names_the_problem(value, message):
    with pytest.raises(ConfigError, match=message):
        read(roles=value)


def test_comma_string_is_a_list_as_ansible_lists_are():
    assert read(roles={"add": "A, B"}).add == ["A", "B"]


def test_old_identity_names_warn_and_fill_identity():
    m = module(upn="svc@contoso.com")
    assert m.params["identity"] == "svc@contoso.com"
    assert any("upn" in d and "1.0.0" in d for d in
               ["%s %s" % (d["msg"], d.get("version")) for d in warnings.get_deprecation_messages()])


def test_identity_has_no_deprecation():
    m = module(identity="svc@contoso.com")
    assert m.params["identity"] == "svc@contoso.com" and deprecations() == []


@pytest.mark.parametrize("value, upn", [
    ("svc@contoso.com", "svc@contoso.com"),
    (" 5F1C0D2E-8A3B-4C7D-9E6F-0A1B2C3D4E5F ", None),
])
def test_upn_of(value, upn):
    assert identity.upn_of(value) == upn


def test_change_tracker_one_source_for_changed_and_diff():
    same = ChangeTracker({"a": 1, "b": 2}, {"a": 1, "b": 2}, ["a"])
    assert not same.changed and same.diff() == {"before": {"a": 1}, "after": {"a": 1}}
    moved = ChangeTracker({"a": 1, "b": 2}, {"a": 3, "b": 2}, ["a"])
    assert moved.changed and moved.diff() == {"before": {"a": 1}, "after": {"a": 3}}


def test_change_tracker_notes_changes_it_does_not_show():
    tracker = ChangeTracker({"a": 1}, {"a": 1}, ["a"])
    tracker.note("password")
    assert tracker.changed and "password" not in str(tracker.diff())


def test_change_tracker_create_and_delete_show_one_side():
    created = ChangeTracker({}, {"a": 1, "hidden": 2}, ["a"])
    assert created.changed and created.diff() == {"before": {}, "after": {"a": 1}}
    deleted = ChangeTracker({"a": 1}, {}, ["a"])
    assert deleted.changed and deleted.diff() == {"before": {"a": 1}, "after": {}}

# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.d365.identity.plugins.module_utils._compare import compute_patch, diff_for, list_delta


def test_unset_options_are_unmanaged():
    assert compute_patch({"displayName": None, "accountEnabled": None}, {"displayName": "A"}) == {}


def test_only_differences_patched():
    current = {"displayName": "A", "accountEnabled": True, "usageLocation": "GB"}
    desired = {"displayName": "A", "accountEnabled": False, "usageLocation": "GB"}
    assert compute_patch(desired, current) == {"accountEnabled": False}


def test_casefold_keys():
    current = {"userPrincipalName": "Svc@Contoso.com", "displayName": "a"}
    assert compute_patch({"userPrincipalName": "svc@contoso.com"}, current, casefold=("userPrincipalName",)) == {}
    assert compute_patch({"displayName": "A"}, current) == {"displayName": "A"}


def test_missing_current_is_a_change():
    assert compute_patch({"usageLocation": "GB"}, None) == {"usageLocation": "GB"}
    assert compute_patch({"accountEnabled": False}, {}) == {"accountEnabled": False}


def test_lists_compare_as_sets():
    assert compute_patch({"plans": ["b", "a"]}, {"plans": ["a", "b"]}) == {}
    assert compute_patch({"plans": ["a"]}, {"plans": ["a", "b"]}) == {"plans": ["a"]}


def test_list_delta_add_remove():
    assert list_delta(["A", "b"], add=["a", "c", "C"], remove=["B", "x"]) == (["c"], ["b"])


def test_list_delta_exact_wins_and_empty_clears():
    assert list_delta(["a", "b"], add=["z"], exact=["b", "c"]) == (["c"], ["a"])
    assert list_delta(["a", "b"], exact=[]) == ([], ["a", "b"])


def test_list_delta_custom_key():
    current = [{"id": "1"}, {"id": "2"}]
    to_add, to_remove = list_delta(current, exact=[{"id": "2"}, {"id": "3"}], key=lambda r: r["id"])
    assert to_add == [{"id": "3"}] and to_remove == [{"id": "1"}]


def test_diff_for_limits_keys():
    diff = diff_for({"a": 1, "b": 2, "password": "x"}, {"a": 3, "b": 2}, ["a", "b"])
    assert diff == {"before": {"a": 1, "b": 2}, "after": {"a": 3, "b": 2}}


# -- as used by entra_user and m365_license -------------------------------------------

def test_compute_patch_bool_false_is_managed_and_none_is_not():
    current = {"accountEnabled": True, "usageLocation": None}
    assert compute_patch({"accountEnabled": False, "usageLocation": None}, current) == {"accountEnabled": False}
    assert compute_patch({"accountEnabled": True, "usageLocation": "GB"}, current) == {"usageLocation": "GB"}


def test_compute_patch_casefold_only_named_keys():
    current = {"userPrincipalName": "A@B.com", "displayName": "Svc"}
    desired = {"userPrincipalName": "a@b.COM", "displayName": "svc"}
    assert compute_patch(desired, current, casefold=("userPrincipalName",)) == {"displayName": "svc"}


def test_compute_patch_empty_list_against_missing():
    assert compute_patch({"disabledPlans": []}, {"disabledPlans": []}) == {}
    assert compute_patch({"disabledPlans": []}, {"disabledPlans": ["x"]}) == {"disabledPlans": []}


def test_list_delta_skus_case_insensitive_no_duplicates():
    have = ["ea126fc5-a19e-42e2-a731-da9d437bffcf"]
    assert list_delta(have, add=["EA126FC5-A19E-42E2-A731-DA9D437BFFCF", "x", "X"]) == (["x"], [])
    assert list_delta(have, remove=["EA126FC5-A19E-42E2-A731-DA9D437BFFCF"]) == ([], have)
    assert list_delta([], remove=["a"]) == ([], [])


def test_diff_for_create_and_delete_shapes():
    assert diff_for({}, {"a": 1}, ["a", "b"]) == {"before": {"a": None}, "after": {"a": 1}}
    assert diff_for({"a": 1}, None, ["a"]) == {"before": {"a": 1}, "after": {"a": None}}

# SPDX-License-Identifier: GPL-3.0-or-later
"""The failure_cause filter: ansible_failed_result reduced to what the operator needs."""
from __future__ import annotations

from ansible_collections.d365.identity.plugins.filter.failure_cause import FilterModule, failure_cause

ENV = "https://contoso.crm4.dynamics.com"


def test_registered_under_its_name():
    assert FilterModule().filters() == {"failure_cause": failure_cause}


def test_loop_result_with_one_failed_item():
    result = {"failed": True, "msg": "One or more items failed", "results": [
        {"failed": False, "changed": True, "item": {"url": "https://ok.crm4.dynamics.com"}},
        {"failed": True, "msg": "The user is disabled.\n", "error_code": "0x80040225", "request_id": "req-7",
         "item": {"url": ENV, "roles": ["System Administrator"]}},
        {"failed": True, "msg": "second failure", "error_code": "other",
         "item": {"url": "https://late.crm.dynamics.com"}},
    ]}
    assert failure_cause(result) == {"message": "The user is disabled.", "error_code": "0x80040225",
                                     "environment": ENV, "request_id": "req-7"}


def test_loop_item_as_url_string_and_environment_url_key():
    assert failure_cause({"results": [{"failed": True, "msg": "x", "item": ENV}]})["environment"] == ENV
    result = {"results": [{"failed": True, "msg": "x", "item": {"environment_url": ENV}}]}
    assert failure_cause(result)["environment"] == ENV


def test_loop_item_without_url_uses_module_args():
    result = {"results": [{"failed": True, "msg": "x", "item": "System Administrator",
                           "invocation": {"module_args": {"environment_url": ENV}}}]}
    assert failure_cause(result)["environment"] == ENV


def test_plain_result():
    result = {"failed": True, "msg": "  Forbidden: grant User.ReadWrite.All.  ",
              "error_code": "Authorization_RequestDenied", "request_id": "abc", "invocation": {"module_args": {"environment_url": ENV}}}
    assert failure_cause(result) == {"message": "Forbidden: grant User.ReadWrite.All.",
                                     "error_code": "Authorization_RequestDenied", "environment": ENV,
                                     "request_id": "abc"}


def test_loop_failed_item_without_msg_falls_back_to_the_loop_message():
    result = {"msg": "One or more items failed", "results": [{"failed": True, "item": {"url": ENV}}]}
    assert failure_cause(result)["message"] == "One or more items failed"


def test_missing_fields():
    assert failure_cause({}) == {"message": "no message", "error_code": None, "environment": None,
                                 "request_id": None}
    assert failure_cause(None) == {"message": "no message", "error_code": None, "environment": None,
                                   "request_id": None}
    assert failure_cause({"msg": "boom", "results": [{"failed": False}], "invocation": {}}) == {
        "message": "boom", "error_code": None, "environment": None, "request_id": None}


def test_until_exhausted_item_says_so_instead_of_the_loop_message():
    result = {"msg": "One or more items failed",
              "results": [{"failed": True, "msg": "", "attempts": 30, "item": {"url": ENV}}]}
    cause = failure_cause(result)
    assert cause["message"] == "the condition was still not met after 30 attempts" and cause["environment"] == ENV

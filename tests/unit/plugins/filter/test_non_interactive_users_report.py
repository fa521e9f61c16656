# SPDX-License-Identifier: GPL-3.0-or-later
"""The two report filters are thin: they hand over to _domain/report.py and refuse the wrong input."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.d365.identity.plugins.filter import non_interactive_user_result as result_filter
from ansible_collections.d365.identity.plugins.filter import non_interactive_users_report as report_filter


def test_filters_are_registered():
    assert "non_interactive_user_result" in result_filter.FilterModule().filters()
    assert "non_interactive_users_report" in report_filter.FilterModule().filters()


def test_user_result_and_fleet_report():
    one = result_filter.non_interactive_user_result({"upn": "a@contoso.com", "environments": ["https://e.example"],
                                                     "failure": {"message": "boom"}})
    assert one["failed"] and one["environments"][0]["detail"] == "boom"
    rendered = report_filter.non_interactive_users_report([one, None], hosts=["a", "b"], path="r.md")
    assert rendered["summary"]["failed"] == 2 and rendered["file_content"] == rendered["markdown"]


def test_audit_kind_and_wrong_input():
    assert report_filter.non_interactive_users_report({"rows": []}, kind="audit")["kind"] == "audit"
    for args, kwargs in ((({"rows": []},), {}), (([],), {"kind": "audit"}), (([],), {"kind": "other"})):
        with pytest.raises(AnsibleFilterError):
            report_filter.non_interactive_users_report(*args, **kwargs)

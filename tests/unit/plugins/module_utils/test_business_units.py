# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError
from ansible_collections.d365.identity.plugins.module_utils._domain.business_units import (
    business_unit_name, resolve_business_unit)

ROOT = {"businessunitid": "11111111-1111-1111-1111-111111111111", "name": "contoso"}
SALES = {"businessunitid": "22222222-2222-2222-2222-222222222222", "name": "Sales"}
SALES_TWO = {"businessunitid": "33333333-3333-3333-3333-333333333333", "name": "Sales"}


class Units:
    """client.business_units() answering from a table of filters; records what it was asked."""

    environment_url = "https://contoso.crm4.dynamics.com"

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def business_units(self, filter_expr=None):
        self.asked.append(filter_expr)
        return self.answers.get(filter_expr, [])


def test_root_name_and_id():
    units = Units({"parentbusinessunitid eq null": [ROOT], "name eq 'O''Brien'": [SALES],
                   "businessunitid eq %s" % SALES["businessunitid"]: [SALES]})
    assert resolve_business_unit(units, None) == ROOT
    assert resolve_business_unit(units, "O'Brien") == SALES  # quoted as an OData string
    assert resolve_business_unit(units, SALES["businessunitid"].upper()) == SALES
    assert units.asked == ["parentbusinessunitid eq null", "name eq 'O''Brien'",
                           "businessunitid eq %s" % SALES["businessunitid"]]


def test_a_name_shared_by_two_units_asks_for_the_id():
    units = Units({"name eq 'Sales'": [SALES, SALES_TWO]})
    with pytest.raises(ConfigError, match="matches 2 business units .*Fix: give its id"):
        resolve_business_unit(units, "Sales")


def test_unknown_unit_lists_the_units():
    units = Units({None: [SALES, ROOT]})
    with pytest.raises(ConfigError, match="'Marketing' not found in .*Business units there: contoso, Sales"):
        resolve_business_unit(units, "Marketing")


def test_name_of_a_known_unit_needs_no_read():
    units = Units({"businessunitid eq %s" % SALES["businessunitid"]: [SALES]})
    assert business_unit_name(units, ROOT["businessunitid"].upper(), ROOT) == "contoso" and units.asked == []
    assert business_unit_name(units, SALES["businessunitid"], ROOT) == "Sales" and len(units.asked) == 1

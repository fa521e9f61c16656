# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.tests.unit.fakes.identity import FakeTokens
from ansible_collections.d365.identity.tests.unit.fakes.tenant import FakeTenant


@pytest.fixture
def fake_tokens():
    return FakeTokens()


@pytest.fixture
def sleeps():
    recorded = []
    return recorded


@pytest.fixture
def tenant(monkeypatch):
    """The one harness of module tests: a FakeTenant (empty Graph, the admin API, no Dataverse environment)
    installed into D365Module, whose factories then build the real clients pointed at the fakes.

    Set ``tenant.graph`` / ``tenant.admin``, add environments, then ``tenant.run(module, **options)``. A test
    file may override this fixture to set ``tenant.module`` and ``tenant.defaults`` for all its tests.
    """
    return FakeTenant().install(monkeypatch)

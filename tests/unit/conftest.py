# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.tests.unit.fakes import FakeTokens


@pytest.fixture
def fake_tokens():
    return FakeTokens()


@pytest.fixture
def sleeps():
    recorded = []
    return recorded

# SPDX-License-Identifier: GPL-3.0-or-later
"""The rescue keeps the licence when the ordering guard refused: it finds the guard by its task name."""
from __future__ import annotations

import os

import yaml

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "non_interactive_user")


def load(*parts):
    with open(os.path.join(ROLE, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_rescue_names_the_guard_task_as_it_is_called():
    guard = load("vars", "main.yml")["__non_interactive_user_guard_task"]
    names = [task.get("name") for task in load("tasks", "return_license.yml")]
    assert guard in names
    guard_task = next(task for task in load("tasks", "return_license.yml") if task.get("name") == guard)
    assert "ansible.builtin.assert" in guard_task

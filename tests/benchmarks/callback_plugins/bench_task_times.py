# SPDX-License-Identifier: GPL-3.0-or-later
"""Callback for tests/benchmarks/bench_procedure.py: appends "<epoch seconds> <task name>" per task start
to the file named by BENCH_TASK_TIMES, so the benchmark can charge each logged API request to a task.
Enabled only by the benchmark (ANSIBLE_CALLBACK_PLUGINS + ANSIBLE_CALLBACKS_ENABLED)."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("BENCH_TASK_TIMES")

    def _write(self, name):
        if self._path:
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps([time.time(), name]) + "\n")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write(task.get_name().strip())

    def v2_playbook_on_handler_task_start(self, task):
        self._write(task.get_name().strip())

    def v2_playbook_on_stats(self, stats):
        self._write("(end)")

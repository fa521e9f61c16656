# SPDX-License-Identifier: GPL-3.0-or-later
"""The one harness: a tenant of fake services wired into D365Module, and running a module's main()."""

from __future__ import annotations

import contextlib
import io
import json

from ansible.module_utils import _internal as module_internal
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args

try:  # ansible-core >= 2.22: the module reports its no_log values and the controller masks them in every result
    from ansible.module_utils import secrets as public_secrets
    from ansible.module_utils._internal import _secrets, _secrets_object
except ImportError:
    public_secrets = _secrets = _secrets_object = None

from ansible_collections.d365.identity.plugins.module_utils._module import D365Module
from ansible_collections.d365.identity.tests.unit.fakes.admin_api import FakeAdmin
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph
from ansible_collections.d365.identity.tests.unit.fakes.identity import AUTH_ARGS, FakeTokens

# Options whose values must never reach a module's output (the no_log ones the tests pass).
SECRET_OPTIONS = ("client_secret", "client_certificate_password", "password")


class Result(dict):
    """A module's JSON result; ``out`` is its output as Ansible shows it (see shown_output)."""

    out = ""


@contextlib.contextmanager
def secret_masker(masker):
    """ansible-core >= 2.22: use masker as the process's secret masker meanwhile (all three module references)."""
    if _secrets is None:
        yield
        return
    saved = _secrets._secret_masker
    for holder in (_secrets, _secrets_object, public_secrets):
        holder._secret_masker = masker
    try:
        yield
    finally:
        for holder in (_secrets, _secrets_object, public_secrets):
            holder._secret_masker = saved


def shown_output(stdout):
    """The module's output as the controller shows it. Before ansible-core 2.22 a module masks its no_log values
    itself: the raw stdout. From 2.22 on the module reports them (_ansible_new_secrets) and the controller masks
    exactly those wherever they are in the result, the way executor/task_result.py does: a value the module did not
    report stays in the clear and fails the check."""
    if _secrets is None:
        return stdout
    result = json.loads(stdout)
    controller = _secrets.SecretMasker()
    controller.register_secret_texts(result.pop("_ansible_new_secrets", None) or [])  # the channel, never shown
    with secret_masker(controller):
        return json.dumps(_secrets_object.mask_object(result))


def run_task(module, args, check=False, diff=False):
    """Run module.main() (or any callable ending in exit_json / fail_json) with args as the task's
    arguments; return its Result.

    Fails the test when main() returns without exiting, or when the value of a secret option the
    task was given (SECRET_OPTIONS) shows up anywhere in the output.
    """
    params = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    main = getattr(module, "main", module)
    # A real task runs in its own process, target side: no warning or deprecation of an earlier run
    # shows up, and they go into the result (not to the controller's display, once a test imported it).
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    stdout = io.StringIO()
    controller, module_internal.is_controller = module_internal.is_controller, False
    try:
        # A module's process starts knowing no secret: every no_log value it meets is reported as new.
        with secret_masker(_secrets.SecretMasker() if _secrets else None), patch_module_args(params), \
                contextlib.redirect_stdout(stdout):
            try:
                main()
            except SystemExit:
                pass
            else:
                raise AssertionError("%s returned without exit_json or fail_json" % getattr(module, "__name__", main))
    finally:
        module_internal.is_controller = controller
    result = Result(json.loads(stdout.getvalue()))
    result.out = shown_output(stdout.getvalue())
    for name in SECRET_OPTIONS:
        value = params.get(name)
        if isinstance(value, str) and len(value) >= 8:
            assert value not in result.out, "the value of %s is in the module's output" % name
    return result


class FakeTenant:
    """Microsoft Graph, the admin API and Dataverse environments of one tenant, behind the real clients.

    install(monkeypatch) makes D365Module's client factories build their real clients as usual
    (URLs, scopes, check mode, timeouts from the task's options) and point them at these fakes, with
    FakeTokens as token provider. ``graph`` and ``admin`` may be replaced; environments are added
    with add_environment() and looked up by URL (dataverse_client(url) for an unknown URL fails the
    test: set the environment up first).

    run(module, check=..., diff=..., **args) runs a module with AUTH_ARGS, then ``defaults``, then
    args as its options; ``module`` may be left out when ``self.module`` is set.
    """

    def __init__(self, graph=None, environments=(), admin=None):
        self.graph = graph or FakeGraph()
        self._admin = None
        self.admin = admin or FakeAdmin()
        self.environments = {}
        self.tokens = FakeTokens()
        self.module = None
        self.defaults = {}
        for env in environments:
            self.add_environment(env)

    @property
    def admin(self):
        return self._admin

    @admin.setter
    def admin(self, admin):
        admin.tenant = self
        self._admin = admin

    def add_environment(self, env):
        self.environments[env.environment_url.lower()] = env
        return env

    def environment(self, url):
        env = self.environments.get(url.rstrip("/").lower())
        if env is None:
            raise AssertionError("no fake Dataverse environment at %s (the tenant has %s)" % (
                url, ", ".join(self.environments) or "none"))
        return env

    def urls(self):
        return [env.environment_url for env in self.environments.values()]

    def services(self):
        return [self.graph, self.admin] + list(self.environments.values())

    def writes(self):
        """Every write call a module made, in any service."""
        return [call for service in self.services() for call in service.writes()]

    def install(self, monkeypatch):
        graph_client, admin_api_client = D365Module.graph_client, D365Module.admin_api_client
        dataverse_client = D365Module.dataverse_client
        monkeypatch.setattr(D365Module, "session", lambda module: None)
        monkeypatch.setattr(D365Module, "token_provider", lambda module: self.tokens)
        monkeypatch.setattr(D365Module, "graph_client",
                            lambda module: self.graph.attach(graph_client(module), self.tokens))
        monkeypatch.setattr(D365Module, "admin_api_client",
                            lambda module: self.admin.attach(admin_api_client(module), self.tokens))

        def fake_dataverse_client(module, environment_url=None, session=None):
            client = dataverse_client(module, environment_url, session)  # attach() puts the fake's session in
            return self.environment(client.environment_url).attach(client, self.tokens)

        monkeypatch.setattr(D365Module, "dataverse_client", fake_dataverse_client)
        return self

    def run(self, module=None, check=False, diff=False, **args):
        module = module or self.module
        if module is None:
            raise AssertionError("FakeTenant.run needs the module (or set tenant.module)")
        return run_task(module, dict(AUTH_ARGS, **dict(self.defaults, **args)), check=check, diff=diff)

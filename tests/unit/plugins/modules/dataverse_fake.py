# SPDX-License-Identifier: GPL-3.0-or-later
"""A small in-memory Dataverse + admin API + Graph for the dataverse_* module tests.

It answers the DataverseClient / AdminApiClient / GraphClient methods the modules call and
records every write, so tests can assert "zero writes" exactly.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils._errors import (
    ApiError, ConflictError, PermissionDeniedError, TransportError)
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module

ENV_URL = "https://contoso.crm4.dynamics.com"
ENV_ID = "a0865ff4-e4c9-4c80-9945-3bf0af451706"
ROOT_BU = "11111111-1111-1111-1111-111111111111"
SALES_BU = "22222222-2222-2222-2222-222222222222"
SYSADMIN_T = "627090ff-40a3-4053-8790-584edc5be201"
BASIC_T = "236750cd-45ae-4939-ab12-b24b920ced93"
SALES_T = "c90c4856-4548-461c-9044-54c49c7534d4"
MEGAN_OID = "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f"
MEGAN_ID = "aaaaaaaa-0000-0000-0000-000000000001"
LYNNE_OID = "6b29e6f6-1445-4dd4-935a-349151f27467"
ARGS = {"tenant_id": "t", "client_id": "c", "client_secret": "unit-test-secret-value", "environment_url": ENV_URL}


def role_id(template, bu):
    return template[:24] + bu[24:]


def make_roles():
    roles = []
    for bu in (ROOT_BU, SALES_BU):
        for name, template in (("Systemadministrator", SYSADMIN_T), ("Basic User", BASIC_T), ("Salesperson", SALES_T)):
            roles.append({"roleid": role_id(template, bu), "name": name, "_roletemplateid_value": template,
                          "_businessunitid_value": bu})
    return roles


def _literal(text):
    text = text.strip()
    if text == "null":
        return None
    if text.startswith("'"):
        return text[1:-1].replace("''", "'").lower()
    try:
        return int(text)
    except ValueError:
        return text.lower()


def _matches(row, filter_expr):
    for clause in (filter_expr or "").split(" and "):
        if not clause:
            continue
        prop, _op, value = clause.split(" ", 2)
        have = row.get(prop)
        if isinstance(have, str):
            have = have.lower()
        if have != _literal(value):
            return False
    return True


class FakeDataverse:
    def __init__(self, users=None, org_resources=True, max_ni=7):
        self.environment_url = ENV_URL
        self.roles_rows = make_roles()
        self.users = {u["systemuserid"]: dict(u, __roles=list(u.get("__roles", []))) for u in (users or [])}
        self.writes = []
        self.reads = []
        self.org_resources = org_resources
        self.max_ni = max_ni
        self.allow_disabled = False
        self.fail_next = []  # exceptions raised by the next writes (after applying when tagged "applied")

    # -- helpers ---------------------------------------------------------------------------
    def _role(self, rid):
        return next(r for r in self.roles_rows if r["roleid"] == rid)

    def _shape(self, row):
        out = {k: v for k, v in row.items() if not k.startswith("__")}
        out["systemuserroles_association"] = [dict(self._role(r)) for r in row["__roles"]]
        return out

    def _maybe_fail(self, apply):
        if self.fail_next:
            error, applied = self.fail_next.pop(0)
            if applied:
                apply()
            raise error
        apply()

    # -- DataverseClient surface ------------------------------------------------------------
    def get_all(self, path, params=None):
        self.reads.append((path, dict(params or {})))
        assert path == "systemusers"
        rows = [r for r in self.users.values() if _matches(r, (params or {}).get("$filter"))]
        return [self._shape(r) for r in rows]

    def organization_resources(self):
        self.reads.append(("RetrieveOrganizationResources()", {}))
        if not self.org_resources:
            raise ApiError("not supported", status=400, code="0x80040800")
        count = sum(1 for r in self.users.values() if r["accessmode"] == 4 and not r.get("applicationid"))
        return {"OrganizationResources": {"CurrentNumberOfNonInteractiveUsers": count,
                                          "MaxNumberOfNonInteractiveUsers": self.max_ni}}

    def current_organization(self):
        self.reads.append(("RetrieveCurrentOrganization", {}))
        return {"Detail": {"EnvironmentId": ENV_ID}}

    def roles(self, filter_expr):
        self.reads.append(("roles", {"$filter": filter_expr}))
        return [dict(r) for r in self.roles_rows if _matches(r, filter_expr)]

    def business_unit(self, bu_id):
        return {"businessunitid": bu_id, "name": "Sales EU" if bu_id == SALES_BU else "contoso"}

    def user_roles(self, user_id):
        self.reads.append(("user_roles", {}))
        return [dict(self._role(r)) for r in self.users[user_id]["__roles"]]

    def update_systemuser(self, user_id, body):
        self.writes.append(("PATCH", user_id, body))
        self._maybe_fail(lambda: self.users[user_id].update(body))

    def associate_role(self, user_id, rid):
        self.writes.append(("POST", user_id, rid))
        user = self.users[user_id]
        if rid in user["__roles"]:
            raise ConflictError("duplicate", status=400, code="0x80040237")
        if user["isdisabled"] and not self.allow_disabled:
            raise ApiError("disabled", status=400, code="0x80040225")
        self._maybe_fail(lambda: user["__roles"].append(rid))

    def disassociate_role(self, user_id, rid):
        self.writes.append(("DELETE", user_id, rid))
        self._maybe_fail(lambda: rid in self.users[user_id]["__roles"] and self.users[user_id]["__roles"].remove(rid))


class FakeAdmin:
    def __init__(self, dataverse, entra=None, error=None):
        self.dataverse = dataverse
        self.entra = entra or {}
        self.error = error
        self.calls = []

    def add_user(self, env_id, oid):
        self.calls.append((env_id, oid))
        if self.error:
            raise self.error
        upn = self.entra[oid]
        uid = "bbbbbbbb-0000-0000-0000-%012d" % (len(self.dataverse.users) + 1)
        self.dataverse.users[uid] = new_user(uid, oid, upn)
        return {}

    def environment_id_for_url(self, url):
        return ENV_ID


class FakeGraph:
    def __init__(self, entra):
        self.by_upn = {upn.lower(): oid for oid, upn in entra.items()}
        self.calls = []

    def find_user(self, key, select=None):
        self.calls.append((key, select))
        oid = self.by_upn.get(key.lower())
        return {"id": oid} if oid else None


def new_user(uid, oid, upn, accessmode=0, bu=ROOT_BU, roles=(), isdisabled=False, islicensed=True):
    return {"systemuserid": uid, "domainname": upn, "azureactivedirectoryobjectid": oid, "applicationid": None,
            "accessmode": accessmode, "isdisabled": isdisabled, "islicensed": islicensed,
            "_businessunitid_value": bu, "__roles": list(roles)}


def megan(**kwargs):
    return new_user(MEGAN_ID, MEGAN_OID, "megan@contoso.onmicrosoft.com", bu=SALES_BU,
                    roles=[role_id(SALES_T, SALES_BU)], **kwargs)


class Harness:
    """Wires the fakes into D365Module and runs a module's main()."""

    def __init__(self, monkeypatch, capsys, dataverse, admin=None, graph=None):
        self.dataverse, self.admin, self.graph = dataverse, admin, graph
        self.capsys = capsys
        monkeypatch.setattr(D365Module, "dataverse_client", lambda module, environment_url=None: dataverse)
        monkeypatch.setattr(D365Module, "admin_api_client", lambda module: admin)
        monkeypatch.setattr(D365Module, "graph_client", lambda module: graph)

    def run(self, module, args, check=False, diff=False):
        extra = {}
        if check:
            extra["_ansible_check_mode"] = True
        if diff:
            extra["_ansible_diff"] = True
        with patch_module_args(dict(ARGS, **dict(args, **extra))), pytest.raises(SystemExit):
            module.main()
        return json.loads(self.capsys.readouterr().out)


__all__ = ["ApiError", "PermissionDeniedError", "TransportError", "FakeDataverse", "FakeAdmin", "FakeGraph",
           "Harness", "megan", "new_user"]

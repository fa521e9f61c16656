"""Build a State from a scenario file (YAML or JSON). Names in the file are resolved to ids here."""
import json
import os
import time

from . import knobs as knobs_mod
from .state import Environment, State, det_guid, iso
from .tls import load_certificate_der, make_client_certificate

DEFAULT_SCENARIO = os.path.join(os.path.dirname(__file__), "default_scenario.yml")

STANDARD_ROLES = [  # fact sheet §6 templates; Salesperson's template id is arbitrary
    {"name": "System Administrator", "template": "627090FF-40A3-4053-8790-584EDC5BE201"},
    {"name": "System Customizer", "template": "119F245C-3CC8-4b62-B31C-D1A046CED15D"},
    {"name": "Basic User", "template": "236750CD-45AE-4939-AB12-B24B920CED93"},
    {"name": "Salesperson", "template": "c2c0a1b2-4a1e-4d0e-9f3d-5b1f7e7a9c01"},
]


def load_file(path):
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        return json.loads(text)
    import yaml  # only needed for YAML scenarios
    return yaml.safe_load(text)


def _sku_ref(state, ref):
    for sku in state.skus.values():
        if ref.lower() in (sku["skuId"], sku["skuPartNumber"].lower()):
            return sku["skuId"]
    raise KeyError(f"unknown SKU {ref!r}")


def _licence_entries(state, refs):
    out = {}
    for ref in refs or []:
        ref = {"sku": ref} if isinstance(ref, str) else ref
        out[_sku_ref(state, ref["sku"])] = {"disabledPlans": list(ref.get("disabledPlans", [])),
                                            "lastUpdatedDateTime": iso()}
    return out


def _group_ref(state, ref):
    if ref is None:
        return None
    for group in state.groups.values():
        if ref.lower() in (group["id"], group["displayName"].lower()):
            return group["id"]
    raise KeyError(f"unknown group {ref!r}")


def _user_ref(state, ref):
    user = state.find_user(ref)
    if user is None:
        raise KeyError(f"unknown user {ref!r}")
    return user["id"]


def _client_ref(state, ref):
    for client in state.clients.values():
        if ref.lower() in (client["client_id"], client["name"].lower()):
            return client
    raise KeyError(f"unknown client {ref!r}")


EXT_ATTR_KEYS = [f"extensionAttribute{i}" for i in range(1, 16)]  # §2b


def _extension_attributes(spec):
    """Scenario ``extension_attributes``: {extensionAttribute15: "x"} or {15: "x"} -> {extensionAttribute15: "x"}."""
    out = {}
    for key, value in (spec or {}).items():
        text = str(key)
        name = f"extensionAttribute{text}" if text.isdigit() else text
        match = next((k for k in EXT_ATTR_KEYS if k.lower() == name.lower()), None)
        if match is None:
            raise ValueError(f"unknown extension attribute {key!r} (1..15 or extensionAttribute1..15)")
        if value is not None and (not isinstance(value, str) or len(value) > 1024):  # §2b: string, <= 1024
            raise ValueError(f"extension attribute {key!r} must be a string of at most 1024 characters")
        if value is not None:
            out[match] = value
    return out


def add_user(state, spec):
    tid = state.tenant_id
    upn = spec["userPrincipalName"]
    uid = (spec.get("id") or det_guid(tid, "user", upn.lower())).lower()
    given, dummy, surname = spec.get("displayName", upn.split("@")[0]).partition(" ")
    user = {"id": uid, "userPrincipalName": upn, "displayName": spec.get("displayName", upn.split("@")[0]),
            "givenName": spec.get("givenName", given or None), "surname": spec.get("surname", surname or None),
            "mailNickname": spec.get("mailNickname", upn.split("@")[0]),
            "accountEnabled": spec.get("accountEnabled", True), "usageLocation": spec.get("usageLocation"),
            "password": spec.get("password", "Emulator!Passw0rd"),
            "forceChangePasswordNextSignIn": spec.get("forceChangePasswordNextSignIn", False),
            "direct": _licence_entries(state, spec.get("licenses")),
            "createdDateTime": iso(), "created_at": 0.0,
            "power_platform_admin": spec.get("power_platform_admin", False),
            # §2b: onPremisesExtensionAttributes; onPremisesSyncEnabled null = cloud-only, true = synced
            "ext_attrs": _extension_attributes(spec.get("extension_attributes")),
            "onPremisesSyncEnabled": (None if spec.get("on_premises_sync_enabled") is None
                                      else bool(spec["on_premises_sync_enabled"])),
            "extra": {"mail": spec.get("mail", upn), "jobTitle": spec.get("jobTitle"), "businessPhones": [],
                      "mobilePhone": None, "officeLocation": None, "preferredLanguage": None}}
    state.users[uid] = user
    for gref in spec.get("groups", []):
        state.groups[_group_ref(state, gref)]["members"].append(uid)
    return user


def add_systemuser(st, env, su):
    """A systemuser row for an existing Entra user, as if synchronised long ago (scenario `systemusers`)."""
    user = st.users[_user_ref(st, su["user"])]
    bu_id = env.bu_by_name(su["business_unit"]) if su.get("business_unit") else env.root_bu
    row = env.new_systemuser(**st.user_columns(user), azureactivedirectoryobjectid=user["id"],
                             _businessunitid_value=bu_id, accessmode=int(su.get("accessmode", 0)),
                             isdisabled=bool(su.get("isdisabled", False)), islicensed=True)
    row["__roles"] = [env.role_by_name(r, bu_id) for r in su.get("roles", [])]
    return row


def add_application_user(st, env, au):
    """An application user row of a client (scenario / POST /scenario `application_users`, fact sheet §8).

    ``deletedstate: 1`` seeds a soft-deleted row (it must also be disabled: only those can be deleted), the
    leftover that makes a new create fail with 0x80040237."""
    client = _client_ref(st, au["client"])
    bu_id = env.bu_by_name(au["business_unit"]) if au.get("business_unit") else env.root_bu
    deleted = int(au.get("deletedstate", 0))
    # Rows are keyed by app id: a soft-deleted leftover gets an id of its own, so a live row can sit next to it.
    key = {"systemuserid": det_guid(env.id, "deleted-systemuser", client["client_id"], len(env.systemusers))} \
        if deleted else {}
    row = env.new_systemuser(**key, applicationid=client["client_id"], azureactivedirectoryobjectid=client["object_id"],
                             fullname=f"# {client['name']}", firstname="#", lastname=client["name"],
                             domainname=f"{client['client_id']}@{st.domains[0]}", _businessunitid_value=bu_id,
                             accessmode=int(au.get("accessmode", 4)), isdisabled=bool(au.get("isdisabled", deleted)),
                             islicensed=False, deletedstate=deleted)
    row["__roles"] = [] if deleted else [env.role_by_name(r, bu_id) for r in au.get("roles", [])]
    return row


def build_state(scenario, base_url, state_dir, cert_cache):
    """``cert_cache`` keeps generated client certificates across /reset (the PEM file must stay valid)."""
    st = State()
    st.knobs = knobs_mod.merge(knobs_mod.DEFAULT_KNOBS, scenario.get("knobs"))
    tenant = scenario.get("tenant", {})
    st.tenant_name = tenant.get("name", "contoso")
    st.tenant_id = tenant.get("id", det_guid("tenant", st.tenant_name)).lower()
    st.domains = [d.lower() for d in tenant.get("domains", [f"{st.tenant_name}.onmicrosoft.com"])]
    for spec in scenario.get("skus", []):
        sku_id = spec["skuId"].lower()
        st.skus[sku_id] = {
            "skuId": sku_id, "skuPartNumber": spec["skuPartNumber"], "seats": int(spec.get("seats", 0)),
            "capabilityStatus": spec.get("capabilityStatus", "Enabled"),
            "accountId": st.tenant_id, "accountName": st.tenant_name,
            "subscriptionIds": [det_guid(st.tenant_id, "subscription", sku_id)],
            "servicePlans": [{"servicePlanId": p["servicePlanId"].lower(), "servicePlanName": p["servicePlanName"],
                              "provisioningStatus": "Success", "appliesTo": p.get("appliesTo", "User"),
                              "dataverse": bool(p.get("dataverse"))} for p in spec.get("servicePlans", [])]}
    for spec in scenario.get("groups", []):
        gid = (spec.get("id") or det_guid(st.tenant_id, "group", spec["displayName"])).lower()
        st.groups[gid] = {"id": gid, "displayName": spec["displayName"], "description": spec.get("description"),
                          "securityEnabled": spec.get("securityEnabled", True),
                          "mailEnabled": spec.get("mailEnabled", False), "members": [],
                          "licenses": {}, "createdDateTime": iso()}
    for spec in scenario.get("users", []):
        add_user(st, spec)
    for spec in scenario.get("groups", []):
        gid = _group_ref(st, spec.get("id") or spec["displayName"])
        st.groups[gid]["members"] += [_user_ref(st, m) for m in spec.get("members", [])
                                      if _user_ref(st, m) not in st.groups[gid]["members"]]
        st.groups[gid]["licenses"] = _licence_entries(st, spec.get("licenses"))
    for spec in scenario.get("clients", []):
        cid = spec.get("client_id", det_guid(st.tenant_id, "client", spec["name"])).lower()
        client = {"client_id": cid, "name": spec["name"], "secret": spec.get("secret"),
                  "public": bool(spec.get("public")), "managed_identity": bool(spec.get("managed_identity")),
                  "graph_permissions": list(spec.get("graph_permissions", [])),
                  "admin_app": bool(spec.get("admin_app")),
                  "object_id": spec.get("object_id", det_guid(st.tenant_id, "sp", cid)).lower(),
                  "cert_der": None, "cert_path": None}
        cert = spec.get("certificate")
        if cert == "generate":
            path = os.path.join(state_dir, f"{spec['name']}-client.pem")
            if spec["name"] not in cert_cache:
                cert_cache[spec["name"]] = make_client_certificate(f"{spec['name']} client", path)
            client["cert_der"], client["cert_path"] = cert_cache[spec["name"]], path
        elif cert:
            client["cert_der"] = load_certificate_der(cert)
        st.clients[cid] = client
    for spec in scenario.get("environments", []):
        name = spec["name"]
        env_id = spec.get("id", det_guid(st.tenant_id, "environment", name)).lower()
        env = Environment(name, env_id, f"{base_url}/dataverse/{name}",
                          spec.get("organization_id", det_guid(env_id, "organization")).lower(),
                          _group_ref(st, spec.get("security_group")), spec.get("settings"))
        env.friendly_name = spec.get("friendly_name", name)
        bus = spec.get("business_units") or [{"name": name, "parent": None}]
        for bu in bus:  # parents must be listed before children
            parent = env.bu_by_name(bu["parent"]) if bu.get("parent") else None
            env.add_business_unit(bu["name"], parent, bu.get("id"))
        for role in spec.get("roles") or STANDARD_ROLES:
            # fact sheet §6: each root role is copied into every BU with the same template, new role id.
            root_id = env.add_role(role["name"], role["template"], env.root_bu)
            for bu_id in env.business_units:
                if bu_id != env.root_bu:
                    env.add_role(role["name"], role["template"], bu_id, root_id)
        for su in spec.get("systemusers", []):
            add_systemuser(st, env, su)
        for au in spec.get("application_users", []):
            add_application_user(st, env, au)
        st.environments[name] = env
    # Everything in the file counts as "already synced long ago" (since=0), applied on the first request.
    st.changed(at=0.0)
    return st


def apply_runtime_update(state, body):
    """POST /scenario: merge knobs (under "knobs" or at top level), add users, set group members,
    set SKU seat counts, change per-environment settings. Returns nothing; raises ValueError/KeyError on bad input."""
    body = dict(body or {})
    knob_update = dict(body.pop("knobs", {}) or {})
    for key in list(body):
        if key in knobs_mod.DEFAULT_KNOBS:
            knob_update[key] = body.pop(key)
    state.knobs = knobs_mod.merge(state.knobs, knob_update)
    for spec in body.pop("users", []):
        user = add_user(state, spec)
        user["created_at"] = time.time()
    for spec in body.pop("groups", []):
        gid = _group_ref(state, spec.get("id") or spec["displayName"])
        if "members" in spec:
            state.groups[gid]["members"] = [_user_ref(state, m) for m in spec["members"]]
        if "licenses" in spec:
            state.groups[gid]["licenses"] = _licence_entries(state, spec["licenses"])
    for spec in body.pop("skus", []):
        # The tenant buys or cancels seats: §3 subscribedSkus prepaidUnits.enabled (free = enabled - consumedUnits).
        # Control API only, so a test can give parallel runs enough free seats; consumption is left as it is.
        sku_id = _sku_ref(state, spec.get("skuId") or spec["skuPartNumber"])
        seats = int(spec["seats"])
        if seats < 0:
            raise ValueError(f"seats of {spec} must not be negative")
        state.skus[sku_id]["seats"] = seats
    for name, settings in (body.pop("environments", {}) or {}).items():
        env = state.environments[name]
        if "security_group" in settings:
            env.security_group = _group_ref(state, settings.pop("security_group"))
        for su in settings.pop("systemusers", []):  # e.g. fill an environment's non-interactive slots
            add_systemuser(state, env, su)
        for au in settings.pop("application_users", []):  # e.g. a soft-deleted leftover (§8)
            add_application_user(state, env, au)
        env.settings.update(settings)
    if body:
        raise ValueError(f"unknown scenario keys {sorted(body)}")
    state.changed()

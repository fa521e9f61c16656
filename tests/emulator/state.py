"""In-memory tenant: Entra users/groups/SKUs/clients and Dataverse environments, plus the Entra->Dataverse sync.

One re-entrant lock guards everything (callers use ``with state.lock``). The sync is computed lazily from
timestamps on each Dataverse/admin/control request, so there are no background threads.
"""
import datetime
import threading
import time
import uuid

SYSTEM_ADMINISTRATOR = "627090ff-40a3-4053-8790-584edc5be201"  # fact sheet §6


def iso(ts=None):
    ts = time.time() if ts is None else ts
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_guid():
    return str(uuid.uuid4())


def det_guid(*parts):
    """Deterministic GUIDs keep ids stable across resets and runs (easier debugging)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(str(p) for p in parts)))


class Environment:
    def __init__(self, name, env_id, url, org_id, security_group=None, settings=None):
        self.name, self.id, self.url, self.organization_id = name, env_id, url, org_id
        self.unique_name = "unq" + env_id.replace("-", "")[:24]
        self.friendly_name = name
        self.security_group = security_group
        self.settings = dict(settings or {})
        self.business_units = {}   # id -> row
        self.root_bu = None
        self.roles = {}            # id -> row
        self.systemusers = {}      # id -> row (internal "__roles": list of role ids)
        self.sync = {}             # entra user id -> {"state": (enabled, licensed, in_group), "since", "applied"}
        self.rowversion = 1000

    def next_version(self):
        self.rowversion += 1
        return self.rowversion

    def add_business_unit(self, name, parent=None, bu_id=None):
        bu_id = bu_id or det_guid(self.id, "bu", name)
        self.business_units[bu_id] = {"businessunitid": bu_id, "name": name,
                                      "_parentbusinessunitid_value": parent, "isdisabled": False,
                                      "versionnumber": self.next_version()}
        if parent is None:
            self.root_bu = bu_id
        return bu_id

    def add_role(self, name, template_id, bu_id, root_role_id=None):
        role_id = det_guid(self.id, "role", template_id.lower(), bu_id)
        self.roles[role_id] = {"roleid": role_id, "name": name, "_businessunitid_value": bu_id,
                               "_roletemplateid_value": template_id.lower(),
                               "_parentrootroleid_value": root_role_id or role_id,
                               "versionnumber": self.next_version()}
        return role_id

    def role_by_name(self, name, bu_id):
        for role in self.roles.values():
            if role["name"].lower() == name.lower() and role["_businessunitid_value"] == bu_id:
                return role["roleid"]
        raise KeyError(f"role {name!r} not in business unit {bu_id} of {self.name}")

    def bu_by_name(self, name):
        for bu in self.business_units.values():
            if bu["name"].lower() == name.lower():
                return bu["businessunitid"]
        raise KeyError(f"business unit {name!r} not in {self.name}")

    def new_systemuser(self, **cols):
        now = iso()
        ident = cols.get("applicationid") or cols.get("azureactivedirectoryobjectid")
        # Stable ids for the same principal across resets make logs comparable between runs.
        row = {"systemuserid": det_guid(self.id, "systemuser", ident) if ident else new_guid(),
               "domainname": None, "internalemailaddress": None, "fullname": None, "firstname": None,
               "lastname": None, "azureactivedirectoryobjectid": None, "applicationid": None,
               "accessmode": 0, "isdisabled": False, "islicensed": False, "_businessunitid_value": self.root_bu,
               "deletedstate": 0,  # fact sheet §8: 0 live, 1 soft-deleted
               "createdon": now, "modifiedon": now, "versionnumber": self.next_version(), "__roles": []}
        row.update(cols)
        self.systemusers[row["systemuserid"]] = row
        return row

    def touch(self, row):
        row["modifiedon"] = iso()
        row["versionnumber"] = self.next_version()

    def find_by_object_id(self, oid):
        oid = (oid or "").lower()
        for row in self.systemusers.values():
            if (row.get("azureactivedirectoryobjectid") or "").lower() == oid and not row.get("applicationid"):
                return row
        return None

    def find_by_application_id(self, appid):
        """The live application user of a client (fact sheet §8: one per app per environment)."""
        return next((row for row in self.application_user_rows(appid) if not row["deletedstate"]), None)

    def application_user_rows(self, appid):
        """Every row holding the client id, soft-deleted ones included (fact sheet §8)."""
        appid = (appid or "").lower()
        return [row for row in self.systemusers.values() if (row.get("applicationid") or "").lower() == appid]

    def has_role_template(self, row, template_id):
        return any(self.roles[r]["_roletemplateid_value"] == template_id for r in row["__roles"] if r in self.roles)

    def noninteractive_count(self):
        # fact sheet §5: application users do not count towards the cap of 7.
        return sum(1 for r in self.systemusers.values() if r["accessmode"] == 4 and not r.get("applicationid"))


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.knobs = {}
        self.tenant_id = None
        self.tenant_name = None
        self.domains = []
        self.users = {}          # id -> user (insertion order = creation order)
        self.deleted = {}        # id -> user in /directory/deletedItems
        self.groups = {}
        self.skus = {}           # skuId -> sku
        self.clients = {}        # client_id -> client
        self.environments = {}   # name -> Environment
        self._lic_cache = (None, None)
        self.version = 0
        self.licensed_since = {}  # user id -> when it last gained a Dataverse licence (licence propagation, §7)

    # ---------- Entra lookups ----------
    def find_user(self, key, include_new=True):
        """By object id or UPN (case-insensitive), honouring eventual consistency for fresh users (§3)."""
        key = (key or "").lower()
        user = self.users.get(key)
        if user is None:
            user = next((u for u in self.users.values() if u["userPrincipalName"].lower() == key), None)
        if user is not None and not include_new and self.is_replicating(user):
            return None
        return user

    def is_replicating(self, user):
        return time.time() < user["created_at"] + float(self.knobs.get("eventual_consistency_seconds") or 0)

    def upn_taken(self, upn):
        upn = upn.lower()
        pools = [self.users.values()]
        if self.knobs.get("deleted_user_blocks_upn"):  # assumption (§2 UNCONFIRMED)
            pools.append(self.deleted.values())
        return any(u["userPrincipalName"].lower() == upn for pool in pools for u in pool)

    def groups_of(self, uid):
        return [g for g in self.groups.values() if uid in g["members"]]

    # ---------- licences (fact sheet §3) ----------
    def license_states(self):
        """Per user list of licenseAssignmentStates, and per SKU the set of users consuming a seat.

        Direct assignments always hold a seat (assignLicense refuses beyond the seats); group-based ones get
        a seat while any is free, otherwise state Error / CountViolation (documented error values)."""
        version, cached = self._lic_cache
        if version == self.version:
            return cached
        holders = {sku: set() for sku in self.skus}
        per_user = {uid: [] for uid in self.users}
        for uid, user in self.users.items():
            for sku, d in user["direct"].items():
                holders.setdefault(sku, set()).add(uid)
                per_user[uid].append({"assignedByGroup": None, "state": "Active", "error": "None",
                                      "disabledPlans": list(d["disabledPlans"]), "skuId": sku,
                                      "lastUpdatedDateTime": d["lastUpdatedDateTime"]})
        for gid, group in self.groups.items():
            for sku, d in group["licenses"].items():
                seats = self.skus[sku]["seats"] if sku in self.skus else 0
                for uid in group["members"]:
                    if uid not in self.users:
                        continue
                    held = holders.setdefault(sku, set())
                    ok = uid in held or len(held) < seats
                    if ok:
                        held.add(uid)
                    per_user[uid].append({"assignedByGroup": gid, "state": "Active" if ok else "Error",
                                          "error": "None" if ok else "CountViolation",
                                          "disabledPlans": list(d.get("disabledPlans", [])), "skuId": sku,
                                          "lastUpdatedDateTime": d.get("lastUpdatedDateTime") or iso()})
        result = (per_user, holders)
        self._lic_cache = (self.version, result)
        return result

    def active_skus(self, uid):
        """skuId -> union of disabled plans over the user's active assignments (direct first)."""
        out = {}
        for st in self.license_states()[0].get(uid, []):
            if st["state"] == "Active" and st["skuId"] not in out:
                out[st["skuId"]] = st["disabledPlans"]
        return out

    def has_dataverse_licence(self, uid):
        # fact sheet §3: a licence whose SKU carries a Dataverse-enabled service plan that is not disabled.
        for sku_id, disabled in self.active_skus(uid).items():
            sku = self.skus.get(sku_id)
            if sku and any(p.get("dataverse") and p["servicePlanId"] not in disabled for p in sku["servicePlans"]):
                return True
        return False

    # ---------- sync (fact sheet §0, §5, §7) ----------
    def eligibility(self, uid, env):
        user = self.users.get(uid)
        if user is None:
            return (False, False, False)
        in_group = env.security_group is None or uid in self.groups.get(env.security_group, {}).get("members", [])
        return (bool(user["accountEnabled"]), self.has_dataverse_licence(uid), in_group)

    def changed(self, at=None):
        """Call after every Entra mutation: bump version, restart the sync clock of users whose state moved."""
        self.version += 1
        now = time.time() if at is None else at
        for uid in self.users:
            if not self.has_dataverse_licence(uid):
                self.licensed_since.pop(uid, None)
            else:
                self.licensed_since.setdefault(uid, now)
        for env in self.environments.values():
            for uid in list(self.users) + [u for u in env.sync if u not in self.users]:
                state = self.eligibility(uid, env)
                rec = env.sync.get(uid)
                if rec is None or rec["state"] != state:
                    env.sync[uid] = {"state": state, "since": now, "applied": False}

    def materialize(self, env, now=None):
        """Apply every sync whose delay has elapsed (fact sheet §5 'Non-interactive rules')."""
        now = time.time() if now is None else now
        delay = float(self.knobs.get("sync_delay") or 0)
        for uid, rec in env.sync.items():
            if rec["applied"] or now < rec["since"] + delay:
                continue
            rec["applied"] = True
            self.apply_sync(env, uid, rec["state"])

    def licence_propagating(self, uid, now=None):
        """True while the Dataverse licence the user gained (from none) has not reached Power Platform yet (fact
        sheet §7: licence assignment is asynchronous, addUser answers userNotLicensed meanwhile; terraform retries it
        for up to 9 minutes). How long it takes is an ASSUMPTION: knob license_propagation_delay, 0 by default."""
        delay = float(self.knobs.get("license_propagation_delay") or 0)
        since = self.licensed_since.get(uid)
        return bool(delay and since is not None and (time.time() if now is None else now) < since + delay)

    def apply_sync(self, env, uid, state, create=True):
        enabled, licensed, in_group = state
        user = self.users.get(uid)
        row = env.find_by_object_id(uid)
        if row is None:
            if enabled and licensed and in_group and create and user:
                # New synced users land in the root BU, Read-Write mode, no roles (fact sheet §0 step 3).
                env.new_systemuser(**self.user_columns(user), azureactivedirectoryobjectid=uid,
                                   accessmode=0, isdisabled=False, islicensed=True)
            return
        noninteractive = row["accessmode"] == 4
        account_ok = enabled or (noninteractive and self.knobs.get("noninteractive_survives_entra_disable"))
        # Non-interactive users are exempt from the licence rule only; security-group rules still apply (§5).
        keep = account_ok and in_group and (licensed or noninteractive)
        row["isdisabled"] = not keep
        row["islicensed"] = bool(licensed)
        if user:
            row.update(self.user_columns(user))
        env.touch(row)

    @staticmethod
    def user_columns(user):
        return {"domainname": user["userPrincipalName"], "internalemailaddress": user["userPrincipalName"],
                "fullname": user["displayName"], "firstname": user.get("givenName"),
                "lastname": user.get("surname") or user["displayName"]}

    def environment_by_id(self, env_id):
        env_id = (env_id or "").lower()
        return next((e for e in self.environments.values() if e.id == env_id), None)

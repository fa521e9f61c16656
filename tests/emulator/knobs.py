"""Run-time switches. Defaults suit tests (no delays, no faults); scenarios and POST /scenario change them.

The switches under "assumptions" pick a behaviour the fact sheet marks UNCONFIRMED (see README).
"""
import copy

DEFAULT_KNOBS = {
    # --- timing ---
    "sync_delay": 0.0,                   # s between Entra eligibility change and Dataverse sync (fact sheet §0, §5)
    # s from a licence assignment until addUser accepts the user (fact sheet §7: asynchronous, terraform retries
    # userNotLicensed for up to 9 minutes; how long is an ASSUMPTION)
    "license_propagation_delay": 0.0,
    "latency_ms": 0,                     # added to every non-control request
    "eventual_consistency_seconds": 0.0,  # new Graph users 404 by id/UPN for this long (fact sheet §3, replication lag)
    "token_lifetime": 3599,              # s; expires_in of issued tokens (fact sheet §1 / example token response)
    # --- throttling (fact sheet §4, §6) ---
    "graph_write_quota": 0,              # writes per window per app; 0 = unlimited
    "graph_write_window": 10.0,          # s
    "dataverse_request_limit": 6000,     # per caller per 300 s sliding window -> 0x80072322
    "dataverse_concurrency_limit": 52,   # concurrent per caller -> 0x80072326
    # --- random faults, per service: {p429, p500, p503, pdrop} ---
    "faults": {},
    "fault_seed": None,
    "drop_after_write": 0.5,             # fraction of dropped writes that are applied before the socket is closed
    "fault_retry_after": 1.0,            # s, Retry-After used by injected 429/503
    # --- assumptions (UNCONFIRMED in the fact sheet) ---
    "deleted_user_blocks_upn": True,                 # §2: soft-deleted user keeps its UPN
    "force_change_password_error_code": 50055,       # §2: ROPC error while forceChangePasswordNextSignIn
    "role_reassociate": "duplicate_error",           # §6: "duplicate_error" (400 0x80040237) or "noop" (204)
    "cross_bu_role_assignment": False,               # §6: roles of another BU refused unless True
    "app_user_may_change_access_mode": True,         # §5/§10: app user holding System Administrator may set accessmode
    "max_noninteractive_users": 7,                   # §5: cap per environment; error code assumed 0x80048d14
    "allow_role_assignment_on_disabled_users": False,  # §0: OrgDBOrgSetting default (per env override in scenario)
    "noninteractive_survives_entra_disable": False,  # §5: accessmode 4 exempts licence only, not account disable
    "bap_adduser_accept_capitalised_objectid": True,  # §7: addUser also reads "ObjectId"
    "unknown_client_code": 700016,                   # §1: AADSTS700016 (400 unauthorized_client) or 7000215 (401)
    # §8: the next N permanent deletes of a systemuser fail with 0x80048610 (its usersettings row, terraform
    # issue #1249); each failure uses one up. Status 400 and the message are ASSUMPTIONS.
    "permanent_delete_failures": 0,
    # §2b: error when writing onPremisesExtensionAttributes of a user with onPremisesSyncEnabled true
    "onprem_mastered_error": {"status": 400, "code": "Request_BadRequest"},
    # §2b: $filter on onPremisesExtensionAttributes/* without ConsistencyLevel: eventual + $count=true -> 400
    "extension_attribute_filter_needs_advanced_query": True,
}

KNOWN_SERVICES = ("login", "msi", "graph", "dataverse", "admin_api", "page")


def merge(knobs, update):
    """Merge ``update`` into a copy of ``knobs``; unknown keys raise so typos in tests fail loudly."""
    out = copy.deepcopy(knobs)
    for key, value in (update or {}).items():
        if key not in DEFAULT_KNOBS:
            raise ValueError(f"unknown knob {key!r}")
        if key == "faults":
            faults = out.setdefault("faults", {})
            for service, probs in (value or {}).items():
                if service not in KNOWN_SERVICES:
                    raise ValueError(f"unknown fault service {service!r}")
                faults[service] = {**faults.get(service, {}), **(probs or {})}
        else:
            out[key] = value
    return out

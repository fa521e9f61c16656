# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The decisions of the role non_interactive_user, as pure functions over what was read.

check_inputs() finds what is wrong with the inputs alone; environment_status() says how far one
environment is; decide() turns the readings into the plan (what to write, in which order) and
every problem that must stop the run before its first write. No network access here: the module
non_interactive_user_info does the reads, so all of this is unit-tested without a tenant.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from . import ownership
from .user_names import usage_location
from .._errors import ConfigError
from .licenses import assignment_states, has_dynamics_plan, seats, split_known
from .systemusers import NON_INTERACTIVE, ROLES_NAV, access_mode_name, match_roles


def _problem(what, fix):
    return "%s Fix: %s" % (what.rstrip(), fix)


def environment_key(url):
    return url.strip().rstrip("/").lower()


def base_url(parts):
    """What the operator probably meant: the URL without query, fragment, user name or page path."""
    path = parts.path.split("/api/")[0].split("/API/")[0]
    if path.lower().endswith(".aspx"):
        path = path.rsplit("/", 1)[0]
    return "https://%s%s%s" % (parts.hostname, ":%d" % parts.port if parts.port else "", path.rstrip("/"))


def check_inputs(params):
    """(problems, environments) from the options alone, before any request."""
    problems = []
    raw = params["identity"] or ""
    if raw != raw.strip():
        problems.append(_problem("non_interactive_user_upn %r has leading or trailing white space." % raw,
                                 "remove it (a UPN never contains white space)."))
    local, _at, domain = raw.strip().rpartition("@")
    if raw.count("@") != 1 or not local or not domain or any(c.isspace() for c in raw.strip()):
        problems.append(_problem("non_interactive_user_upn %r is not a user principal name." % raw,
                                 "write it as name@domain with exactly one @ and a verified domain of the tenant, "
                                 "for example svc-d365-portal@contoso.onmicrosoft.com."))
    url_problems, environments = check_environment_urls(params["environments"], "non_interactive_user_environments")
    problems.extend(url_problems)
    if params["state"] == "present" and params.get("usage_location"):
        try:
            usage_location(params["usage_location"])
        except ConfigError as error:
            problems.append(_problem(error.message.split(":")[0] + ".", error.message.split(":", 1)[1].strip()))
    return problems, environments


def check_environment_urls(values, option="environments"):
    """(problems, the URLs without trailing slash) for a list of Dataverse environment URLs, before any request."""
    problems = []
    environments, seen = [], {}
    if not values:
        problems.append(_problem("%s is empty." % option,
                                 "list the Dataverse environment URLs, for example https://contoso.crm4.dynamics.com."))
    for url in values:
        parts = urlsplit(str(url).strip())
        if str(url) != str(url).strip() or parts.scheme != "https" or not parts.hostname:
            problems.append(_problem("Environment URL %r is not an https:// URL." % url,
                                     "write it as https://<org>.crm<N>.dynamics.com (Power Platform admin center > "
                                     "Environment > Environment URL)."))
        elif parts.query or parts.fragment or parts.username or "/api/" in parts.path.lower() \
                or parts.path.lower().endswith(".aspx"):
            problems.append(_problem("Environment URL %r carries a query, a fragment, a user name or a page path." % url,
                                     "give the environment's base URL only, for example %s." % base_url(parts)))
        elif environment_key(url) in seen:
            problems.append(_problem("Environment %s is listed twice (%r and %r)." % (
                environment_key(url), seen[environment_key(url)], url), "list each environment once."))
        else:
            seen[environment_key(url)] = url
            environments.append(str(url).strip().rstrip("/"))
    return problems, environments


def roles_missing(wanted, user_roles):
    """The wanted roles (names or template GUIDs) the user does not hold yet."""
    try:
        _matched, unknown = match_roles(wanted, user_roles)
    except ConfigError:
        return []  # two held roles answer to the name: it is held
    return unknown


def environment_status(url, row, wanted_roles):
    """How far one environment is, from the user's systemuser row (None: not synchronised)."""
    present = row is not None
    enabled = present and not row.get("isdisabled")
    non_interactive = present and row.get("accessmode") == NON_INTERACTIVE
    missing = roles_missing(wanted_roles, row.get(ROLES_NAV) or []) if present else list(wanted_roles)
    return {"url": url, "present": present, "enabled": enabled, "non_interactive": non_interactive,
            "roles_ok": present and not missing, "missing_roles": missing,
            "done": enabled and non_interactive and not missing,
            "systemuserid": row.get("systemuserid") if present else None, "sync": None, "slots": None,
            "businessunitid": row.get("_businessunitid_value") if present else None, "environment_id": None,
            "business_unit_roles": None,
            "access_mode": access_mode_name(row.get("accessmode")) if present else None,
            "roles": sorted((r.get("name") or r.get("roleid") for r in row.get(ROLES_NAV) or []), key=str.casefold)
            if present else []}


def held_borrowable(user, borrowable):
    """Part numbers of the borrowable SKUs the user holds directly: a borrow, whoever started it."""
    direct = {str(s["skuId"]).lower() for s in assignment_states(user) if not s.get("assignedByGroup")}
    return [s["skuPartNumber"] for s in borrowable if str(s["skuId"]).lower() in direct]


def licence_plan(params, skus, need_licence, held):
    """(candidates to borrow in preference order, problems)."""
    wanted, unknown = split_known(skus, params["license_skus"])
    problems = []
    no_plan = [s["skuPartNumber"] for s in wanted if not has_dynamics_plan(s)]
    if no_plan:
        problems.append(_problem("Licence SKU %s includes no Dynamics 365 service plan, so it never brings the user "
                                 "into Dataverse." % ", ".join(no_plan),
                                 "remove it from non_interactive_user_license_skus."))
    usable = [s for s in wanted if has_dynamics_plan(s)]
    candidates = [s["skuPartNumber"] for s in usable if seats(s)["free"] > 0]
    if need_licence and not held and not params["license_skus"]:
        problems.append(_problem("non_interactive_user_license_skus is empty, but the user needs a licence until it "
                                 "is non-interactive.", "list the Dynamics 365 SKUs that may be borrowed."))
    elif need_licence and not held and not candidates and not no_plan and params.get("seat_wait") \
            and any(seats(s)["enabled"] > 0 for s in usable):
        pass  # every seat taken right now: the borrow waits for one (non_interactive_user_seat_wait)
    elif need_licence and not held and not candidates and not no_plan:
        found = "; ".join("%s %d/%d used" % (s["skuPartNumber"], seats(s)["consumed"], seats(s)["enabled"])
                          for s in usable) or "none of them"
        problems.append(_problem(
            "No free seat to borrow in non_interactive_user_license_skus (%s%s)." % (
                found, "; not in this tenant: " + ", ".join(unknown) if unknown else ""),
            "free one seat (the licence is only borrowed until the user is non-interactive), or add a SKU with a "
            "free seat to non_interactive_user_license_skus."))
    return candidates, problems


def entra_changes(params, user):
    """Graph properties this run must change on an existing user."""
    changes = {}
    if params.get("display_name") and params["display_name"] != user.get("displayName"):
        changes["displayName"] = params["display_name"]
    if params.get("usage_location") and str(params["usage_location"]).strip().upper() != \
            str(user.get("usageLocation") or "").upper():
        changes["usageLocation"] = str(params["usage_location"]).strip().upper()
    if not user.get("accountEnabled") and params.get("account_enabled"):
        changes["accountEnabled"] = True
    return changes


TENANT_SKU_KEYS = ("skuId", "skuPartNumber", "appliesTo", "capabilityStatus", "consumedUnits", "prepaidUnits",
                   "servicePlans")


def tenant_sku(sku):
    """A subscribedSku row as passed on to m365_license (tenant_skus): what it reads of one, nothing more."""
    return {k: sku.get(k) for k in TENANT_SKU_KEYS}


def decide(params, user, statuses, skus=None, groups=None):
    """The plan for state=present.

    user: the Graph user or None; statuses: environment_status() per environment; skus: the
    tenant's subscribedSkus when read; groups: [{'id', 'displayName', 'member'}] when read.
    Returns a dict (see the module's RETURN) with 'problems' listing what stops the run.
    """
    number = params["owner_attribute"]
    problems, plan = [], []
    upn = params["identity"].strip()
    exists = user is not None
    owned = exists and ownership.is_owned(user, number)
    pending = [s for s in statuses if not s["done"]]
    need_licence = not exists or any(not s["enabled"] for s in statuses)
    borrowable = split_known(skus, params["license_skus"])[0] if skus is not None else []
    held = held_borrowable(user, borrowable) if exists else []
    changes = entra_changes(params, user) if exists else {}
    groups_to_add = [g for g in groups or [] if not g.get("member")]

    if not exists:
        entra = "create"
        missing = [name for name in ("password", "usage_location") if not params.get(name)]
        for name in missing:
            problems.append(_problem(
                "%s does not exist, and creating it needs non_interactive_user_%s." % (upn, name),
                "set non_interactive_user_%s%s." % (name, " (from Ansible Vault or an AWX credential)"
                                                    if name == "password" else " (ISO 3166 code such as GB or US: "
                                                                               "licences need it)")))
    else:
        entra = "update" if changes else "none"
        if not user.get("accountEnabled") and not params.get("account_enabled") and (owned or params.get("adopt")):
            problems.append(_problem(
                "%s is disabled in Microsoft Entra ID; the collection leaves a disabled account disabled (an "
                "administrator may have disabled it on purpose)." % upn,
                "if it must work again, set non_interactive_user_account_enabled: true."))
        if need_licence and not held and not user.get("usageLocation") and "usageLocation" not in changes:
            problems.append(_problem("%s has no usage location, and a licence can only be assigned with one." % upn,
                                     "set non_interactive_user_usage_location (for example GB or US)."))

    borrow = need_licence and not held
    candidates = []
    if skus is not None:
        candidates, licence_problems = licence_plan(params, skus, need_licence, held)
        problems.extend(licence_problems)
    give_back = params["remove_license"] and (borrow or bool(held))
    work = bool(changes or groups_to_add or pending or give_back or not exists)
    adopt = False
    if exists and not owned and work:
        problem = ownership.adoption_problem(user, number)
        if not params.get("adopt"):
            problems.append(_problem(
                "%s already exists and was not created by d365.identity (it holds no ownership mark in "
                "onPremisesExtensionAttributes.%s), so the run will not change it: it may be a person's account."
                % (upn, ownership.attribute_name(number)),
                "choose another non_interactive_user_upn; or, if this account is meant to become a non-interactive "
                "user managed here, set non_interactive_user_adopt: true."))
        elif problem:
            problems.append(problem)
        else:
            adopt = True

    if entra == "create":
        plan.append("create Entra user %s (usage location %s), marked as owned by d365.identity" % (
            upn, str(params.get("usage_location") or "?").upper()))
    elif entra == "update" or adopt:
        plan.append("update Entra user %s: %s%s" % (upn, ", ".join("%s=%s" % kv for kv in sorted(changes.items()))
                                                    or "no property", ", adopt (mark as owned)" if adopt else ""))
    for group in groups_to_add:
        plan.append("add %s to group %s" % (upn, group.get("displayName") or group["id"]))
    wait_for_seat = borrow and skus is not None and not candidates and bool(params.get("seat_wait"))
    if borrow and wait_for_seat:
        plan.append("wait up to %d s for a free seat of %s (none free now), then borrow it" % (
            params["seat_wait"], ", ".join(s["skuPartNumber"] for s in borrowable if has_dynamics_plan(s))
            or "non_interactive_user_license_skus"))
    elif borrow:
        plan.append("borrow one licence of %s" % (", ".join(candidates) or "non_interactive_user_license_skus"))
    elif held and pending:
        plan.append("keep the licence %s it already holds until every environment is finished" % ", ".join(held))
    for status in pending:
        steps = []
        if not status["present"]:
            steps.append("%s the sync" % ("force" if status.get("sync") == "force" else "wait for"))
        if status["missing_roles"]:
            steps.append("grant %s" % ", ".join(status["missing_roles"]))
        if not status["non_interactive"]:
            steps.append("set access mode Non-interactive")
        if status["present"] and not status["enabled"]:
            steps.insert(0, "wait until enabled")
        plan.append("%s: %s" % (status["url"], ", ".join(steps) or "re-check"))
    if give_back:
        plan.append("give back the licence (%s) once every environment shows Non-interactive and enabled" % (
            ", ".join(held) if held else "the borrowed one"))
    converged = not work
    return {
        "converged": converged,
        "owned": owned,
        "adopt": adopt,
        "entra": {"action": entra, "changes": changes},
        "groups_to_add": [g["id"] for g in groups_to_add],
        "groups_to_join": [{"id": g["id"], "displayName": g.get("displayName")} for g in groups_to_add],
        "license": {"borrow": borrow and not converged, "candidates": candidates, "held": held,
                    "wait_for_seat": wait_for_seat and not converged,
                    "borrowable": [s["skuPartNumber"] for s in borrowable if has_dynamics_plan(s)],
                    "give_back": give_back, "skus": [tenant_sku(s) for s in skus or []]},
        "pending": [s["url"] for s in pending],
        "plan": plan or ["nothing to change"],
        "problems": problems,
    }


def decide_absent(params, user, statuses):
    """The plan for state=absent: roles off, access mode back to Read-Write, then delete the Entra user."""
    number = params["owner_attribute"]
    upn = params["identity"].strip()
    problems, plan = [], []
    if user is None:
        return {"converged": True, "owned": False, "adopt": False, "plan": ["nothing to change: %s does not exist" % upn],
                "problems": [], "pending": []}
    owned = ownership.is_owned(user, number)
    if not owned and not params.get("adopt"):
        problems.append(_problem(
            "%s was not created by d365.identity (no ownership mark in onPremisesExtensionAttributes.%s), so the run "
            "will not remove it: it may be a person's account." % (upn, ownership.attribute_name(number)),
            "check non_interactive_user_upn; set non_interactive_user_adopt: true only if this account must go."))
    for status in statuses:
        if status["present"]:
            plan.append("%s: remove roles, set access mode Read-Write" % status["url"])
    plan.append("delete Entra user %s (restorable for 30 days)" % upn)
    return {"converged": False, "owned": owned, "adopt": bool(params.get("adopt")) and not owned, "plan": plan,
            "problems": problems, "pending": [s["url"] for s in statuses if s["present"]]}

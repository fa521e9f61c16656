"""Graph licences: assignLicense, licenseDetails, subscribedSkus (fact sheet §3)."""
from . import odata
from .graph_common import _body
from .httpio import Response, graph_error
from .state import iso
from .tokens import b64u


def assign_license(server, req, user):
    """§3 assignLicense, with the documented/3p error messages."""
    st = server.state
    body = _body(req)
    for key in ("addLicenses", "removeLicenses"):  # current docs: both required (may be empty)
        if not isinstance(body.get(key), list):
            raise graph_error(req, 400, "Request_BadRequest",
                              f"Invalid value specified for property '{key}' of resource 'User'.")
    adds = {}
    for entry in body["addLicenses"]:
        sku_id = str((entry or {}).get("skuId", "")).lower()
        if sku_id not in st.skus:
            raise graph_error(req, 400, "Request_BadRequest",
                              f"License {sku_id} does not correspond to a valid company License.")
        plan_ids = {p["servicePlanId"] for p in st.skus[sku_id]["servicePlans"]}
        disabled = [str(p).lower() for p in entry.get("disabledPlans") or []]
        if any(p not in plan_ids for p in disabled):
            raise graph_error(req, 400, "Request_BadRequest", "Invalid value specified for property "
                              "'disabledPlans' of resource 'User'.")
        adds[sku_id] = disabled
    removes = [str(s).lower() for s in body["removeLicenses"]]
    states = st.license_states()[0].get(user["id"], [])
    for sku_id in removes:
        if sku_id not in st.skus:
            raise graph_error(req, 400, "Request_BadRequest",
                              f"License {sku_id} does not correspond to a valid company License.")
        if sku_id not in user["direct"]:
            if any(s["skuId"] == sku_id and s["assignedByGroup"] for s in states):
                raise graph_error(req, 400, "Request_BadRequest", "User license is inherited from a group "
                                  "membership and it cannot be removed directly from the user.")
            raise graph_error(req, 400, "Request_BadRequest", "User does not have a corresponding license.")
    if adds and not user.get("usageLocation"):
        raise graph_error(req, 400, "Request_BadRequest",
                          "License assignment cannot be done for user with invalid usage location.")
    holders = st.license_states()[1]
    for sku_id in adds:
        held = holders.get(sku_id, set())
        if user["id"] not in held and len(held) >= st.skus[sku_id]["seats"]:
            raise graph_error(req, 400, "Request_BadRequest", f"Subscription with SKU {sku_id} "
                              f"({st.skus[sku_id]['skuPartNumber']}) does not have any available licenses.")
    for sku_id in removes:
        user["direct"].pop(sku_id, None)
    for sku_id, disabled in adds.items():
        user["direct"][sku_id] = {"disabledPlans": disabled, "lastUpdatedDateTime": iso()}
    st.changed()


def license_details(server, user):
    st = server.state
    value = []
    for sku_id, disabled in st.active_skus(user["id"]).items():
        sku = st.skus[sku_id]
        value.append({"id": b64u(f"{user['id']}:{sku_id}".encode())[:43], "skuId": sku_id,
                      "skuPartNumber": sku["skuPartNumber"],
                      "servicePlans": [{"servicePlanId": p["servicePlanId"], "servicePlanName": p["servicePlanName"],
                                        "provisioningStatus": "Disabled" if p["servicePlanId"] in disabled
                                        else "Success", "appliesTo": p["appliesTo"]} for p in sku["servicePlans"]]})
    return {"@odata.context": f"{server.graph_url}/v1.0/$metadata#users('{user['id']}')/licenseDetails",
            "value": value}


def subscribed_skus(server, req):
    st = server.state
    holders = st.license_states()[1]
    value = []
    for sku in st.skus.values():
        full = {"accountName": sku["accountName"], "accountId": sku["accountId"], "appliesTo": "User",
                "capabilityStatus": sku["capabilityStatus"], "consumedUnits": len(holders.get(sku["skuId"], ())),
                "id": f"{st.tenant_id}_{sku['skuId']}",  # examples/graph-subscribedskus-list.json
                "prepaidUnits": {"enabled": sku["seats"], "lockedOut": 0, "suspended": 0, "warning": 0},
                "servicePlans": [{k: p[k] for k in ("servicePlanId", "servicePlanName", "provisioningStatus",
                                                    "appliesTo")} for p in sku["servicePlans"]],
                "skuId": sku["skuId"], "skuPartNumber": sku["skuPartNumber"],
                "subscriptionIds": sku["subscriptionIds"]}
        select = odata.parse_select(req.query.get("$select"))
        value.append({k: full.get(k) for k in select} if select else full)
    return Response(200, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#subscribedSkus", "value": value})

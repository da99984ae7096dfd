"""The practical limit: each decision written by hand as one plain Python function.

The same job as the engine minus what a hand-written function would not do: it reads
the JSON case into exact types (Decimal, date, aware datetime), checks the declared
bounds and the rule set's validations (raising ValueError at the first problem, no
message per field), and computes the outputs the way the YAML says, returning the
`decision` object of the API (money as strings with two decimals). It does not say
which rules fired, why, or from which policy clause, and it does not report unknown
calendar years. bench/engine.py checks it gives the engine's `decision` on every
benchmark case. The rule-set parameters are written in as constants, as a programmer
would; the PRC working-day calendar is the engine's (data, not logic).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from engine.language.functions import months_between
from engine.types import CHINA, parse_datetime

CENT = Decimal("0.01")
ZERO = Decimal(0)


def _money(x) -> Decimal:
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


def _m(x) -> str:
    return f"{_money(x):f}"


def _dec(v, lo=None) -> Decimal | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError("number")
    d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    if not d.is_finite() or (lo is not None and d < lo):
        raise ValueError("number")
    return d


def _money_in(v, lo=ZERO):
    d = _dec(v, lo)
    if d is not None and d.as_tuple().exponent < -2:
        raise ValueError("fen")
    return d


def _date(v) -> date | None:
    if v is None:
        return None
    if not isinstance(v, str) or len(v) != 10:
        raise ValueError("date")
    return date.fromisoformat(v)


def _dt(v) -> datetime | None:
    return None if v is None else parse_datetime(v)


def _bool(case, name, default=False) -> bool:
    v = case.get(name)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise ValueError(name)
    return v


def _int(case, name, default=0, lo=0) -> int:
    v = case.get(name)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(name)
    return v


def _enum(case, name, values, default=None):
    v = case.get(name, default)
    if v is None:
        return default
    if v not in values:
        raise ValueError(name)
    return v


def _str(case, name, default=None):
    v = case.get(name)
    if v is None:
        return default
    if not isinstance(v, str):
        raise ValueError(name)
    return v


# --- scrap_pricing ---------------------------------------------------------------

REMOTE = frozenset("宁夏 青海 甘肃 辽宁 云南 重庆 广西 四川 内蒙古 河北 湖北 贵州 吉林 黑龙江 新疆".split())
SCRAP_INPUTS = frozenset("""has_claim_value reusable rectification_required refurbishable reuse_value
    return_freight sale_value weight_t market_prices_per_t region proposed_price quotes special_reason
    hazardous buyer_licence original_value origin key_part supplier_analysis tested_abroad review_date
    replaced_on handed_back_on delay_reason_reported""".split())


def scrap_pricing(case: dict, as_of: datetime) -> dict:
    if not case.keys() <= SCRAP_INPUTS:
        raise ValueError("unknown field")
    claim, reusable = _bool(case, "has_claim_value"), _bool(case, "reusable")
    rect, refurb = _bool(case, "rectification_required"), _bool(case, "refurbishable")
    reuse_value, freight = _money_in(case.get("reuse_value")), _money_in(case.get("return_freight"))
    sale_value = _money_in(case.get("sale_value"))
    weight = _dec(case.get("weight_t"), ZERO) if case.get("weight_t") is not None else None
    prices = case.get("market_prices_per_t")
    if not isinstance(prices, list) or not prices:
        raise ValueError("market_prices_per_t")
    prices = [_money_in(p, None) for p in prices]
    region = _str(case, "region")
    proposed = _money_in(case.get("proposed_price"))
    quotes = _int(case, "quotes")
    reason = _str(case, "special_reason")
    hazardous = _bool(case, "hazardous")
    licence = _enum(case, "buyer_licence", ("none", "trade", "hazardous_waste"), "none")
    original = _money_in(case.get("original_value"))
    origin = _enum(case, "origin", ("domestic", "imported"), "domestic")
    key_part, supplier, abroad = _bool(case, "key_part"), _bool(case, "supplier_analysis"), _bool(case, "tested_abroad")
    review, replaced, handed = _date(case.get("review_date")), _date(case.get("replaced_on")), _date(case.get("handed_back_on"))
    reported = _bool(case, "delay_reason_reported")
    today = as_of.date()
    if (min(prices) < 0 or (replaced and replaced > today) or (handed and not replaced)
            or (handed and replaced and handed < replaced) or (handed and handed > today)
            or (review and review > today) or (abroad and origin != "imported")):
        raise ValueError("validation")

    freight_exceeds = freight is not None and reuse_value is not None and freight > reuse_value
    reusable_part = reusable or refurb
    returned = claim or rect or (reusable_part and not freight_exceeds)
    if weight is None and not returned:
        raise ValueError("validation")  # a part kept locally needs its weight
    exact = None if weight is None else weight * (sum(prices, ZERO) / len(prices))
    market_value = None if exact is None else _money(exact)
    estimate = sale_value if sale_value is not None else market_value
    if returned:
        disposition = "return_to_company"
    elif reusable_part:
        disposition = "sell_locally"
    elif estimate == 0:
        disposition = "destroy_locally"
    elif estimate < 100:
        disposition = "give_away"
    else:
        disposition = "sell_locally"
    discount = Decimal("0.10") if region in REMOTE else ZERO
    floor = None if exact is None else _money(exact * Decimal("0.85") * (1 - discount))
    out = {"disposition": disposition, "regional_discount": "0.10" if discount else "0", "quotes_required": 3}
    if exact is not None:
        out.update(market_value=f"{market_value:f}", floor_price=f"{floor:f}")
    if disposition != "sell_locally":
        verdict = "not_applicable"
    elif hazardous and licence != "hazardous_waste":
        verdict = "reject"
    elif not hazardous and licence == "none":
        verdict = "incomplete"
    elif quotes < 3 or proposed is None:
        verdict = "incomplete"
    elif proposed >= floor:
        verdict = "accept"
    elif reason:
        verdict = "special_approval_required"
    else:
        verdict = "incomplete"
    out["price_verdict"] = verdict
    if original is not None:
        out["approver"] = ("company_leader" if original > 50000 else
                           "company_department" if original > 20000 else "project")
    if review is not None:
        if origin == "domestic":
            days = 15 if key_part and supplier else 7
        else:
            days = 90 if abroad else 20
        out["ruling_due_on"] = (review + timedelta(days=days)).isoformat()
    if replaced is not None:
        due = replaced + timedelta(days=7)
        out["hand_back_due_on"] = due.isoformat()
        out["days_late"] = 0 if reported else max(0, ((handed or today) - due).days)
    return out


# --- sla -------------------------------------------------------------------------

SLA_INPUTS = frozenset("""program kind requested_at urgent parts_needed parts_in_stock in_warranty distance_km
    onsite_exempt responded_at appraised_at onsite_at resolved_at outage_scope outage_minutes units_returned
    loss injury reputation_harm""".split())
KINDS = ("repair", "complaint", "platform_fault", "quality_incident")
SCOPES = ("all_services", "service_type", "province", "registration")
AT_RISK = Decimal("0.20")
END_OF_DAY = time(23, 59, 59)


def _minutes(a: datetime, b: datetime) -> Decimal:
    return Decimal((b - a) // timedelta(seconds=1)) / 60


def _status(due, reached, requested, as_of):
    if due is None:
        return None
    left = _minutes(reached or as_of, due)
    if left < 0:
        return "breached"
    if reached is not None:
        return "met"
    return "at_risk" if left / _minutes(requested, due) <= AT_RISK else "pending"


def sla(case: dict, as_of: datetime, calendar) -> dict:
    if not case.keys() <= SLA_INPUTS:
        raise ValueError("unknown field")
    program = _str(case, "program", "standard")
    kind = _enum(case, "kind", KINDS)
    requested = _dt(case.get("requested_at"))
    urgent, parts_needed = _bool(case, "urgent"), _bool(case, "parts_needed")
    in_stock, in_warranty = _bool(case, "parts_in_stock", True), _bool(case, "in_warranty", True)
    distance = _dec(case.get("distance_km"), ZERO)
    exempt = _bool(case, "onsite_exempt")
    responded, appraised = _dt(case.get("responded_at")), _dt(case.get("appraised_at"))
    onsite_at, resolved = _dt(case.get("onsite_at")), _dt(case.get("resolved_at"))
    scope = _enum(case, "outage_scope", SCOPES)
    minutes, units = _int(case, "outage_minutes"), _int(case, "units_returned")
    loss = _money_in(case.get("loss"))
    injury, harm = _bool(case, "injury"), _bool(case, "reputation_harm")
    if (kind is None or program not in ("standard", "furniture")
            or (kind != "quality_incident" and requested is None) or (kind == "platform_fault" and scope is None)
            or (requested and any(t and t < requested for t in (responded, appraised, onsite_at, resolved)))):
        raise ValueError("validation")

    out = {}
    response_hours = onsite_hours = severity = incident = None
    if kind == "repair" or kind == "complaint":
        response_hours = 1 if program == "furniture" else (2 if urgent else 24)
        out["response_hours"] = response_hours
    if kind == "repair" and in_warranty:
        if program == "furniture":
            onsite_hours = 4
        elif not exempt:
            onsite_hours = (72 if distance is None or distance > 1000 else 48 if distance > 300 else 24)
        if onsite_hours is not None:
            out["onsite_hours"] = onsite_hours
    if kind == "platform_fault":
        severity = ("major" if scope == "all_services" else
                    "severe" if (scope in ("service_type", "province") and minutes >= 60)
                    or (scope == "registration" and minutes >= 240) else "general")
        out["severity"] = severity
    if kind == "quality_incident":
        incident = ("major" if units >= 500 or (loss is not None and loss >= 20000) or injury or harm else
                    "batch" if units >= 50 else "general")
        out["incident_class"] = incident

    response_due = appraisal_due = onsite_due = resolution_due = None
    if requested is not None:
        if response_hours is not None:
            response_due = requested + timedelta(hours=response_hours)
        if kind == "repair":
            appraisal_due = requested + timedelta(hours=48)
        if onsite_hours is not None:
            onsite_due = requested + timedelta(hours=onsite_hours)

        def working_days_after(t, n):
            return datetime.combine(calendar.working_days_after(t.astimezone(CHINA).date(), n)[0], END_OF_DAY, CHINA)
        if kind == "repair":
            if parts_needed and not in_stock:
                resolution_due = working_days_after(requested, 15)
            else:
                resolution_due = working_days_after(appraised or appraisal_due, 2)
        elif kind == "complaint":
            resolution_due = working_days_after(requested, 3)
        elif severity == "major":
            resolution_due = requested + timedelta(hours=2)
    statuses = []
    for name, due, reached in (("response", response_due, responded), ("appraisal", appraisal_due, appraised),
                               ("onsite", onsite_due, onsite_at), ("resolution", resolution_due, resolved)):
        if due is not None:
            out[f"{name}_due"] = due.isoformat()
            status = _status(due, reached, requested, as_of)
            out[f"{name}_status"] = status
            statuses.append(status)
    if severity == "major" or incident == "major":
        out["escalate_to"] = "general_manager"
    elif severity == "severe" or incident == "batch":
        out["escalate_to"] = "department_head"
    elif "breached" in statuses:
        out["escalate_to"] = "supervisor"
    else:
        out["escalate_to"] = "none"
    return out


# --- depreciation ----------------------------------------------------------------

DEPRECIATION_INPUTS = frozenset(("cost", "stock_in_date", "stock_kind"))
STOCK_KINDS = {"qualified": (True, True), "nonconforming_branch": (True, False), "hq_consignment": (False, False)}
RATE = Decimal("0.08")


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    last = (date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(d.day, last))


def depreciation(case: dict, as_of: datetime) -> dict:
    if not case.keys() <= DEPRECIATION_INPUTS:
        raise ValueError("unknown field")
    cost = _money_in(case.get("cost"))
    stocked = _date(case.get("stock_in_date"))
    kind = _enum(case, "stock_kind", tuple(STOCK_KINDS), "qualified")
    today = as_of.date()
    if cost is None or stocked is None or stocked > today:
        raise ValueError("validation")
    months = months_between(stocked, today)
    depreciates, offered = STOCK_KINDS[kind]
    n = max(0, min(12, months - 3)) if depreciates else 0
    rate = RATE * n
    accumulated = _money(cost * rate)
    past_holding = today > _add_months(stocked, 3)
    return {"months_in_stock": months, "depreciated_months": n,
            "depreciation_rate": f"{rate.normalize():f}" if rate == rate.to_integral_value() else f"{rate:f}",
            "accumulated_depreciation": f"{accumulated:f}", "book_value": _m(cost - accumulated),
            "offer_to_network": offered and past_holding,
            "cost_bearer": "head_office" if kind == "hq_consignment" else "branch"}


FUNCTIONS = {"scrap_pricing": scrap_pricing, "sla": sla, "depreciation": depreciation}

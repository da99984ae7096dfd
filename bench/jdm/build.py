"""GoRules JSON Decision Model (JDM) translations of rules/scrap_pricing.yaml and rules/sla.yaml.

Written by hand, following the YAML rule by rule: each stage becomes decision tables
(hit policy `first`, rows in priority order where the YAML resolves by priority) and
expression nodes for derived facts and computed outputs; the graph is a chain
input → … → output, every node passing its input through. The case goes in as the
API's JSON (money and decimals as strings, dates and date-times as ISO text) with
`as_of` beside its fields; the outputs come out under their own names.

    .venv/bin/python bench/jdm/build.py      # writes bench/jdm/scrap_pricing.json and sla.json

What zen does differently (bench/RESULTS.md says so next to the figures):
- numbers: zen computes in decimals, but hands results to Python as floats; money is
  compared after rounding the float to the fen, as a Decimal.
- no input validation: the graphs are given only cases the engine accepts.
- no explanation: which rows matched is not part of the result (zen's `trace`
  option would add it, at a cost; it is off).
- the PRC working-day calendar is data in the graph (the holidays and 调休 working
  days of every year the engine knows, from the same WorkCalendar, as two texts
  searched with contains()), looked up by expressions: zen has no loops, so the n-th working day is the n-th element of
  the next 20 (or 45) days filtered to working days.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
POS = {"x": 0, "y": 0}


def expressions(node_id: str, pairs: list[tuple[str, str]], pass_through=True) -> dict:
    """An expression node; later keys may read earlier ones as `$.key`."""
    return {"id": node_id, "type": "expressionNode", "name": node_id, "position": POS,
            "content": {"expressions": [{"id": f"{node_id}.{i}", "key": k, "value": v} for i, (k, v) in enumerate(pairs)],
                        "passThrough": pass_through}}


def table(node_id: str, columns: list[str], outputs: list[str], rows: list[list[str]]) -> dict:
    """A `first`-hit decision table: each row is the column cells then the output cells ("" = any)."""
    inputs = [{"id": f"{node_id}.in{i}", "name": c, "field": c} for i, c in enumerate(columns)]
    outs = [{"id": f"{node_id}.out{i}", "name": o, "field": o} for i, o in enumerate(outputs)]
    rules = []
    for r, row in enumerate(rows):
        assert len(row) == len(columns) + len(outputs), (node_id, row)
        rule = {"_id": f"{node_id}.r{r}"}
        rule.update({c["id"]: cell for c, cell in zip(inputs + outs, row)})
        rules.append(rule)
    return {"id": node_id, "type": "decisionTableNode", "name": node_id, "position": POS,
            "content": {"hitPolicy": "first", "passThrough": True, "inputs": inputs, "outputs": outs, "rules": rules}}


def graph(*nodes) -> dict:
    chain = [{"id": "request", "type": "inputNode", "name": "request", "position": POS}, *nodes,
             {"id": "response", "type": "outputNode", "name": "response", "position": POS}]
    edges = [{"id": f"e{i}", "sourceId": a["id"], "targetId": b["id"], "type": "edge"}
             for i, (a, b) in enumerate(zip(chain, chain[1:]))]
    return {"contentType": "application/vnd.gorules.decision", "nodes": chain, "edges": edges}


def q(text: str) -> str:
    return "'" + text + "'"


# --- scrap_pricing -----------------------------------------------------------------

REMOTE = ["宁夏", "青海", "甘肃", "辽宁", "云南", "重庆", "广西", "四川", "内蒙古", "河北", "湖北", "贵州", "吉林", "黑龙江", "新疆"]
SCRAP_OUTPUTS = ["disposition", "market_value", "regional_discount", "floor_price", "quotes_required",
                 "price_verdict", "approver", "ruling_due_on", "hand_back_due_on", "days_late"]


def _if_weight(expr: str) -> str:
    return f"market_value_exact != null ? {expr} : null"


def scrap_pricing() -> dict:
    derived = expressions("derived", [
        ("today", "d(as_of).tz('Asia/Shanghai').format('%Y-%m-%d')"),
        # 折中报价: weight × mean of the grades' prices (§ 7.2.1)
        # no weight (a returned part): no market value, no floor price (the outputs' `required: given(weight_t)`)
        ("market_value_exact",
         "weight_t != null ? number(weight_t) * avg(map(market_prices_per_t, number(#))) : null"),
        ("sale_estimate", "sale_value != null ? number(sale_value) : $.market_value_exact != null"
                          " ? round($.market_value_exact, 2) : null"),
        ("freight_exceeds_reuse",
         "(return_freight != null and reuse_value != null) ? number(return_freight) > number(reuse_value) : false"),
        ("reusable_part", "reusable == true or refurbishable == true"),  # refurbishable_counts_as_reusable
        ("returned_part", "has_claim_value == true or rectification_required == true"
                          " or ($.reusable_part and not $.freight_exceeds_reuse)"),
    ])
    # Stage disposition (combine: priority): rows in priority order 30, 20, 10
    disposition = table(
        "disposition",
        ["has_claim_value == true", "rectification_required == true", "reusable_part", "freight_exceeds_reuse",
         "returned_part", "sale_estimate"],
        ["disposition"],
        [["true", "", "", "", "", "", q("return_to_company")],            # SP-101
         ["", "true", "", "", "", "", q("return_to_company")],            # SP-101
         ["", "", "true", "false", "", "", q("return_to_company")],       # SP-102
         ["false", "false", "true", "true", "", "", q("sell_locally")],   # SP-103
         ["", "", "", "", "false", "0", q("destroy_locally")],            # SP-104
         ["", "", "", "", "false", "(0..100)", q("give_away")],           # SP-105
         ["", "", "", "", "false", ">= 100", q("sell_locally")]])         # SP-106
    # Stage pricing: SP-201 (always), SP-202 / SP-203 (remote region or not)
    pricing = table(
        "pricing", ["region"], ["market_value", "quotes_required", "regional_discount", "floor_price"],
        [[", ".join(q(r) for r in REMOTE), _if_weight("round(market_value_exact, 2)"), "3", "0.10",
          _if_weight("round(market_value_exact * 0.85 * (1 - 0.10), 2)")],                     # SP-202
         ["", _if_weight("round(market_value_exact, 2)"), "3", "0",
          _if_weight("round(market_value_exact * 0.85, 2)")]])                                 # SP-203
    # Stage verdict (combine: first): SP-301 … SP-308 in file order
    verdict = table(
        "verdict",
        ["disposition == 'sell_locally'", "hazardous == true", "buyer_licence ?? 'none'", "quotes ?? 0",
         "proposed_price == null", "proposed_price != null ? number(proposed_price) - floor_price : null",
         "special_reason != null and special_reason != ''"],
        ["price_verdict"],
        [["false", "", "", "", "", "", "", q("not_applicable")],                         # SP-301
         ["true", "true", "'none', 'trade'", "", "", "", "", q("reject")],               # SP-302
         ["true", "false", "'none'", "", "", "", "", q("incomplete")],                    # SP-303
         ["true", "", "", "< 3", "", "", "", q("incomplete")],                            # SP-304
         ["true", "", "", "", "true", "", "", q("incomplete")],                           # SP-305
         ["true", "", "", "", "", ">= 0", "", q("accept")],                               # SP-306
         ["true", "", "", "", "", "< 0", "true", q("special_approval_required")],         # SP-307
         ["true", "", "", "", "", "< 0", "", q("incomplete")]])                           # SP-308
    approver = table(
        "approval", ["original_value != null", "original_value != null ? number(original_value) : null"], ["approver"],
        [["true", "> 50000", q("company_leader")],           # SP-AP.1
         ["true", "> 20000", q("company_department")],       # SP-AP.2
         ["true", "<= 20000", q("project")]])                # SP-AP.3
    ruling = table(
        "ruling", ["review_date != null", "origin ?? 'domestic'", "key_part == true", "supplier_analysis == true",
                   "tested_abroad == true"], ["ruling_days"],
        [["true", q("domestic"), "false", "", "", "7"],      # SP-RD.1
         ["true", q("domestic"), "true", "true", "", "15"],  # SP-RD.2
         ["true", q("domestic"), "true", "false", "", "7"],  # SP-RD.3
         ["true", q("imported"), "", "", "false", "20"],     # SP-RD.4
         ["true", q("imported"), "", "", "true", "90"]])     # SP-RD.5
    dates = expressions("dates", [
        ("ruling_due_on", "ruling_days != null ? d(review_date).add(ruling_days, 'd').format('%Y-%m-%d') : null"),
        ("hand_back_due_on", "replaced_on != null ? d(replaced_on).add(7, 'd').format('%Y-%m-%d') : null"),   # SP-501
        ("days_late", "$.hand_back_due_on == null ? null : delay_reason_reported == true ? 0"                  # SP-502
                      " : max([0, d(handed_back_on ?? today).diff(d($.hand_back_due_on), 'd')])"),           # SP-503/504
    ])
    out = expressions("outputs", [(o, o) for o in SCRAP_OUTPUTS], pass_through=False)
    return graph(derived, disposition, pricing, verdict, approver, ruling, dates, out)


# --- sla ---------------------------------------------------------------------------

SLA_OUTPUTS = ["response_hours", "onsite_hours", "severity", "incident_class", "response_due", "appraisal_due",
               "onsite_due", "resolution_due", "response_status", "appraisal_status", "onsite_status",
               "resolution_status", "escalate_to"]
ISO = "'%Y-%m-%dT%H:%M:%S%:z'"


def _working_days_after(start: str, n: int, window: int) -> str:
    """The end (23:59:59 China time) of the n-th PRC working day after the China date of `start`."""
    day = f"d({start}).tz('Asia/Shanghai').add(#, 'd').format('%Y-%m-%d')"
    working = "(contains(workdays, '|' + # + '|') or (not contains(holidays, '|' + # + '|') and d(#).weekday() < 6))"
    return f"filter(map([1..{window}], {day}), {working})[{n - 1}] + 'T23:59:59+08:00'"


def _status_table(step: str, reached: str) -> dict:
    return table(
        f"{step}_status",
        [f"{step}_due != null", f"{reached} != null",
         f"{step}_due != null ? d({step}_due).diff(d({reached} ?? as_of), 's') / 60 : null",
         f"{step}_due != null ? (d({step}_due).diff(d({reached} ?? as_of), 's') / 60)"
         f" / (d({step}_due).diff(d(requested_at), 's') / 60) : null"],
        [f"{step}_status"],
        [["true", "", "< 0", "", q("breached")],
         ["true", "true", "", "", q("met")],
         ["true", "false", "", "<= 0.20", q("at_risk")],
         ["true", "false", "", "", q("pending")]])


def sla(calendar) -> dict:
    # one text per list ("|2026-10-01|2026-10-02|…"): a constant string costs zen one allocation per
    # evaluation, an object of 771 dates (tried first) ~190 µs
    holidays = "|" + "|".join(d.isoformat() for d in sorted(calendar.holidays)) + "|"
    workdays = "|" + "|".join(d.isoformat() for d in sorted(calendar.workdays)) + "|"
    derived = expressions("derived", [
        ("program", "program ?? 'standard'"),
        ("response_applies", "kind == 'repair' or kind == 'complaint'"),     # complaint_response_applies
        ("onsite_applies", "kind == 'repair' and (in_warranty ?? true)"),     # onsite_outside_warranty: false
        ("holidays", q(holidays)),
        ("workdays", q(workdays)),
    ])
    response = table(
        "SLA-RESP", ["response_applies", "program", "urgent == true"], ["response_hours"],
        [["true", q("standard"), "false", "24"], ["true", q("standard"), "true", "2"], ["true", q("furniture"), "", "1"]])
    onsite = table(
        "SLA-ONSITE", ["onsite_applies", "program", "onsite_exempt == true", "distance_km != null",
                       "distance_km != null ? number(distance_km) : null"], ["onsite_hours"],
        [["true", q("furniture"), "", "", "", "4"],
         ["true", q("standard"), "false", "true", "<= 300", "24"],
         ["true", q("standard"), "false", "true", "<= 1000", "48"],
         ["true", q("standard"), "false", "true", "> 1000", "72"],
         ["true", q("standard"), "false", "", "", "72"]])     # onsite_hours_unknown_distance
    severity = table(
        "SLA-SEV", ["kind", "outage_scope", "outage_minutes ?? 0"], ["severity"],
        [[q("platform_fault"), q("all_services"), "", q("major")],
         [q("platform_fault"), q("service_type"), ">= 60", q("severe")],
         [q("platform_fault"), q("province"), ">= 60", q("severe")],
         [q("platform_fault"), q("registration"), ">= 240", q("severe")],
         [q("platform_fault"), "", "", q("general")]])
    incident = table(
        "SLA-QI", ["kind", "units_returned ?? 0", "loss != null ? number(loss) : null", "injury == true",
                   "reputation_harm == true"], ["incident_class"],
        [[q("quality_incident"), ">= 500", "", "", "", q("major")],
         [q("quality_incident"), "", ">= 20000", "", "", q("major")],
         [q("quality_incident"), "", "", "true", "", q("major")],
         [q("quality_incident"), "", "", "", "true", q("major")],
         [q("quality_incident"), ">= 50", "", "", "", q("batch")],
         [q("quality_incident"), "", "", "", "", q("general")]])
    steps = expressions("steps", [
        ("response_due", f"(response_hours != null and requested_at != null) ?"
                         f" d(requested_at).tz('Asia/Shanghai').add(response_hours, 'h').format({ISO}) : null"),   # SLA-201
        ("appraisal_due", f"(kind == 'repair' and requested_at != null) ?"
                          f" d(requested_at).tz('Asia/Shanghai').add(48, 'h').format({ISO}) : null"),              # SLA-202
        ("onsite_due", f"(onsite_hours != null and requested_at != null) ?"
                       f" d(requested_at).tz('Asia/Shanghai').add(onsite_hours, 'h').format({ISO}) : null"),       # SLA-203
        ("appraisal_basis", "appraised_at ?? $.appraisal_due"),
    ])
    resolution = table(
        "resolution", ["kind", "parts_needed == true", "parts_in_stock ?? true", "appraisal_basis != null",
                       "requested_at != null", "severity"], ["resolution_due"],
        [[q("repair"), "false", "", "true", "", "", _working_days_after("appraisal_basis", 2, 20)],     # SLA-301
         [q("repair"), "true", "true", "true", "", "", _working_days_after("appraisal_basis", 2, 20)],  # SLA-302
         [q("repair"), "true", "false", "", "true", "", _working_days_after("requested_at", 15, 45)],   # SLA-303
         [q("complaint"), "", "", "", "true", "", _working_days_after("requested_at", 3, 20)],          # SLA-304
         ["", "", "", "", "true", q("major"),
          f"d(requested_at).tz('Asia/Shanghai').add(2, 'h').format({ISO})"]])                          # SLA-305
    escalation = table(
        "escalation", ["severity", "incident_class",
                       "response_status == 'breached' or appraisal_status == 'breached'"
                       " or onsite_status == 'breached' or resolution_status == 'breached'"], ["escalate_to"],
        [[q("major"), "", "", q("general_manager")], ["", q("major"), "", q("general_manager")],
         [q("severe"), "", "", q("department_head")], ["", q("batch"), "", q("department_head")],
         ["", "", "true", q("supervisor")], ["", "", "", q("none")]])
    out = expressions("outputs", [(o, o) for o in SLA_OUTPUTS], pass_through=False)
    return graph(derived, response, onsite, severity, incident, steps, resolution,
                 _status_table("response", "responded_at"), _status_table("appraisal", "appraised_at"),
                 _status_table("onsite", "onsite_at"), _status_table("resolution", "resolved_at"), escalation, out)


OUTPUTS = {"scrap_pricing": SCRAP_OUTPUTS, "sla": SLA_OUTPUTS}


def build(calendar) -> dict:
    return {"scrap_pricing": scrap_pricing(), "sla": sla(calendar)}


def main():
    sys.path.insert(0, str(ROOT))
    from engine.calendar import load_calendar
    for name, doc in build(load_calendar(ROOT / "rules" / "calendar.yaml")).items():
        (HERE / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote bench/jdm/{name}.json")


if __name__ == "__main__":
    main()

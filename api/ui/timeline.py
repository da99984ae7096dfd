"""The timeline: an inline SVG of each due time a decision holds and when it was reached.

What is drawn comes from the rule set's declarations and the decision, never from names
written here: every `datetime` output the rule set declares and the decision holds is a
step (a diamond); the fired rule that read that due time and set an enum output gives the
step's status (its colour, by the tone words.yaml gives the value) and, among the facts it
read, the `datetime` input that says when the step was reached (a dot); the `datetime`
inputs read by the rules that set the due times are where the bars start. The days behind
are shaded from the engine's own working-day calendar. Nothing is computed here but pixels.
At most MAX_DAYS days are drawn, whatever the dates say; a moment outside them sits at
the clipped edge, which is marked, and keeps its real time in its tooltip and the summary.
"""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

from markupsafe import Markup, escape

from engine.types import CHINA, parse_datetime

from . import words, workings

TONE_COLOURS = {"good": "#1a7f37", "neutral": "#0969da", "warn": "#9a6700", "bad": "#cf222e"}
NO_STATUS = "#57606a"
WEEKEND, HOLIDAY = "#e6e9ee", "#fbd9d6"
W, LEFT, RIGHT, TOP, ROW = 660, 96, 16, 44, 54
MAX_DAYS = 400
"""The most days one timeline draws (one calendar look-up and a few elements each): more than a year,
far beyond any service-level case (the latest due date is weeks after the request), and a bound on the
work of every view of a decision, whatever dates its case or a logged decision holds."""
CLIPPED_MARGIN_DAYS = 7
"""When the moments span more than MAX_DAYS, the drawing ends this many days after the last due
date, so that a step reached a little late keeps its true place."""


def _kind(spec) -> str:
    return spec.type.kind if spec is not None else ""


def applies(ruleset) -> bool:
    """Whether the rule set declares a due time (a `datetime` output) to draw."""
    return ruleset is not None and any(_kind(o) == "datetime" and o.combine != "collect"
                                       for o in ruleset.outputs.values())


def _t(value) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(str(value)).astimezone(CHINA)
    except ValueError:  # unreadable, or outside the years the engine reads: not drawn
        return None


def _span(start: datetime | None, rows: list[dict], points: list[datetime]) -> tuple[date, date]:
    """The first and last day drawn: every moment if they fit in MAX_DAYS, else the MAX_DAYS (at most)
    up to CLIPPED_MARGIN_DAYS after the last due date, from the request if it is among them."""
    first, last = min(points).date(), max(points).date()
    if (last - first).days >= MAX_DAYS:
        dues = [r["due"] for r in rows]
        last_due = max(dues).date()
        last = last_due + timedelta(days=min(CLIPPED_MARGIN_DAYS, (last - last_due).days))
        earliest = last - timedelta(days=min(MAX_DAYS - 1, (last - first).days))
        first = max(earliest, min(dues + ([start] if start else [])).date())
    return first, last


def steps(ruleset, response: dict, case: dict, lang: str) -> tuple[datetime | None, list[dict]]:
    """The start (the earliest `datetime` input the due times were set from) and a row per due time.

    A step was reached at the `datetime` input its status rule reads (itself or through derived
    facts) that the rule setting its due time does not read; its value as the rule read it, else
    as the case gives it."""
    decision, fired, case = response.get("decision", {}), response.get("fired", []), case or {}
    moments = {n for n, i in ruleset.inputs.items() if _kind(i) == "datetime"}
    starts, out = [], []
    for name, spec in ruleset.outputs.items():
        due = _t(decision.get(name)) if _kind(spec) == "datetime" and spec.combine != "collect" else None
        if due is None:
            continue
        setters = [f for f in fired if name in f.get("sets", {})]
        starts += [_t(v) for f in setters for n, v in f.get("values", {}).items() if n in moments]
        set_from = {n for f in setters for n in workings.reads_through(ruleset, f.get("values", {}))}
        status_name = reached = None
        for f in fired:
            values = f.get("values", {})
            status_name = next((o for o in f.get("sets", {}) if name in values and o not in (f.get("overridden") or ())
                                and _kind(ruleset.outputs.get(o)) == "enum"), None)
            if status_name:
                at = next((n for n in workings.reads_through(ruleset, values) if n in moments and n not in set_from),
                          None)
                reached = _t(values.get(at, case.get(at))) if at else None
                break
        status = decision.get(status_name) if status_name else None
        out.append({"name": name, "label": words.label(name, spec.title, lang)[0], "due": due, "reached": reached,
                    "status_name": status_name, "status": status,
                    "status_words": words.output_value(status_name, ruleset.outputs[status_name], status, lang) if status else "",
                    "colour": TONE_COLOURS.get(words.tone(status_name, status), NO_STATUS) if status else NO_STATUS})
    starts = [t for t in starts if t]
    return (min(starts) if starts else None), out


def svg(ruleset, response: dict, case: dict, calendar, lang: str) -> Markup | None:
    start, rows = steps(ruleset, response, case, lang)
    if not rows:
        return None
    as_of = _t(response.get("as_of"))
    points = [p for p in [start, as_of] + [r["due"] for r in rows] + [r["reached"] for r in rows] if p]
    first, last = _span(start, rows, points)
    last += timedelta(days=1)
    t0 = datetime.combine(first, time(0), CHINA)
    t1 = datetime.combine(last, time(0), CHINA)
    span = (t1 - t0).total_seconds()
    plot = W - LEFT - RIGHT
    height = TOP + ROW * len(rows) + 40

    def x(t: datetime) -> float:
        return round(LEFT + (min(max(t, t0), t1) - t0).total_seconds() / span * plot, 1)

    parts = []
    clipped = words.text("clipped", lang).format(days=MAX_DAYS)
    for edge, anchor, beyond, arrow in ((LEFT - 2, "end", min(points) < t0, "«"),
                                        (LEFT + plot + 2, "start", max(points) > t1, "»")):
        if beyond:
            parts.append(f'<text x="{edge}" y="{TOP - 4}" class="clipped" text-anchor="{anchor}" fill="#cf222e">'
                         f'{arrow}<title>{escape(clipped)}</title></text>')
    days = (last - first).days
    every = max(1, math.ceil(days / 12))
    for i in range(days):
        d = first + timedelta(days=i)
        x0, x1 = x(datetime.combine(d, time(0), CHINA)), x(datetime.combine(d + timedelta(days=1), time(0), CHINA))
        working, _ = calendar.is_working_day(d)
        holiday = d in calendar.holidays
        makeup = working and d.weekday() >= 5
        if not working and days <= 190:  # over half a year, shading every weekend is only noise
            what = words.text("holiday" if holiday else "non_working", lang)
            parts.append(f'<rect class="{"holiday" if holiday else "weekend"}" x="{x0}" y="{TOP - 14}" '
                         f'width="{round(x1 - x0, 1)}" height="{ROW * len(rows) + 14}" '
                         f'fill="{HOLIDAY if holiday else WEEKEND}"><title>{escape(words.day(d, lang))} {escape(what)}</title></rect>')
        if holiday and x1 - x0 >= 12:
            parts.append(f'<text x="{(x0 + x1) / 2}" y="{TOP - 4}" class="mark" text-anchor="middle" fill="#a40e26">'
                         f'{"休" if lang == "zh" else "H"}</text>')
        if makeup and x1 - x0 >= 12:
            parts.append(f'<text x="{(x0 + x1) / 2}" y="{TOP - 4}" class="mark" text-anchor="middle" fill="#555">'
                         f'{"班" if lang == "zh" else "W"}</text>')
        if i % every == 0:
            parts.append(f'<line x1="{x0}" y1="{TOP - 14}" x2="{x0}" y2="{TOP + ROW * len(rows)}" stroke="#c8ccd2" '
                         f'stroke-width="0.5"/><text x="{x0 + 2}" y="{TOP - 20}" class="day">{escape(words.month_day(d, lang))}</text>')
    bottom = TOP + ROW * len(rows)
    if start:
        parts.append(f'<line x1="{x(start)}" y1="{TOP - 14}" x2="{x(start)}" y2="{bottom + 6}" stroke="#57606a" '
                     f'stroke-dasharray="3 3"/><text x="{x(start)}" y="{bottom + 20}" class="axis" '
                     f'text-anchor="start">{escape(words.text("requested", lang))} '
                     f'{escape(words.short_moment(start, lang))}</text>')
    if as_of:
        anchor = "end" if x(as_of) > LEFT + plot * 0.6 else "start"
        parts.append(f'<line x1="{x(as_of)}" y1="{TOP - 14}" x2="{x(as_of)}" y2="{bottom + 24}" stroke="#24292f" '
                     f'stroke-width="1.5"/><text x="{x(as_of)}" y="{bottom + 36}" class="axis" text-anchor="{anchor}">'
                     f'{escape(words.text("now", lang))} {escape(words.short_moment(as_of, lang))}</text>')
    summary = []
    for i, r in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        colour, name, status = r["colour"], r["label"], r["status_words"]
        parts.append(f'<text x="8" y="{y - 3}" class="step">{escape(name)}</text>'
                     f'<text x="8" y="{y + 13}" class="status" fill="{colour}">{escape(status)}</text>')
        if start:
            parts.append(f'<rect x="{x(start)}" y="{y - 5}" width="{max(1, x(r["due"]) - x(start))}" height="10" '
                         f'rx="3" fill="{colour}" fill-opacity="0.18"/>')
        due_x = x(r["due"])
        parts.append(f'<path d="M{due_x} {y - 8} L{due_x + 8} {y} L{due_x} {y + 8} L{due_x - 8} {y} Z" fill="#fff" '
                     f'stroke="{colour}" stroke-width="2.5"><title>{escape(words.text("due", lang))} '
                     f'{escape(words.moment(r["due"], lang))}</title></path>')
        anchor = "end" if due_x > LEFT + plot * 0.7 else "start"
        dx = -10 if anchor == "end" else 10
        parts.append(f'<text x="{due_x + dx}" y="{y - 9}" class="due" text-anchor="{anchor}">'
                     f'{escape(words.text("due", lang))} {escape(words.short_moment(r["due"], lang))}</text>')
        line = f'{name}：{words.moment(r["due"], lang)}'
        if r["reached"]:
            rx = x(r["reached"])
            parts.append(f'<circle cx="{rx}" cy="{y}" r="6" fill="{colour}" stroke="#fff" stroke-width="1.5">'
                         f'<title>{escape(words.text("reached", lang))} {escape(words.moment(r["reached"], lang))}'
                         f'</title></circle>')
            anchor = "end" if rx > LEFT + plot * 0.7 else "start"
            parts.append(f'<text x="{rx + (-9 if anchor == "end" else 9)}" y="{y + 18}" class="reached" '
                         f'text-anchor="{anchor}">{escape(words.text("reached", lang))} '
                         f'{escape(words.short_moment(r["reached"], lang))}</text>')
            line += f'，{words.text("reached", lang)} {words.moment(r["reached"], lang)}'
        else:
            line += f'，{words.text("not_reached", lang)}'
        summary.append(f"{line}，{status}" if status else line)
    title = words.text("timeline", lang)
    return Markup(
        f'<svg class="timeline" viewBox="0 0 {W} {height}" role="img" aria-labelledby="tl-title tl-desc" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="tl-title">{escape(title)}</title>'
        f'<desc id="tl-desc">{escape("；".join(summary))}</desc>{"".join(parts)}</svg>')


def legend(ruleset, response: dict, case: dict, lang: str) -> list[tuple[str, str, str]]:
    """(css class, colour, words) for the legend under the timeline: each value of the status
    outputs drawn, as the rule set declares them, then the calendar's shading."""
    out, seen = [], set()
    for r in steps(ruleset, response, case, lang)[1]:
        name = r["status_name"]
        for value in ruleset.outputs[name].type.values if name else ():
            key = (words.value_words(ruleset.outputs[name].type, name, value, lang) or value, words.tone(name, value))
            if key not in seen:
                seen.add(key)
                out.append(("dot", TONE_COLOURS.get(key[1], NO_STATUS), key[0]))
    out += [("band", WEEKEND, words.text("non_working", lang)), ("band", HOLIDAY, words.text("holiday", lang))]
    return out

"""The service-level timeline: an inline SVG of each step's due time and when it was reached.

Request time, each step's due time (a diamond) and reached time (a dot), coloured by the
step's status from the decision; the days behind, with weekends and public holidays
shaded from the engine's own working-day calendar. Nothing is computed here but pixels.
At most MAX_DAYS days are drawn, whatever the dates say; a moment outside them sits at
the clipped edge, which is marked, and keeps its real time in its tooltip and the summary.
"""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

from markupsafe import Markup, escape

from engine.types import CHINA, parse_datetime

from . import words

# (step, due output, status output, reached input)
STEPS = (("response", "response_due", "response_status", "responded_at"),
         ("appraisal", "appraisal_due", "appraisal_status", "appraised_at"),
         ("onsite", "onsite_due", "onsite_status", "onsite_at"),
         ("resolution", "resolution_due", "resolution_status", "resolved_at"))
COLOURS = {"met": "#1a7f37", "pending": "#0969da", "at_risk": "#9a6700", "breached": "#cf222e"}
WEEKEND, HOLIDAY = "#e6e9ee", "#fbd9d6"
W, LEFT, RIGHT, TOP, ROW = 660, 96, 16, 44, 54
MAX_DAYS = 400
"""The most days one timeline draws (one calendar look-up and a few elements each): more than a year,
far beyond any service-level case (the latest due date is weeks after the request), and a bound on the
work of every view of a decision, whatever dates its case or a logged decision holds."""
CLIPPED_MARGIN_DAYS = 7
"""When the moments span more than MAX_DAYS, the drawing ends this many days after the last due
date, so that a step reached a little late keeps its true place."""


def applies(ruleset) -> bool:
    return ruleset is not None and all(s[1] in ruleset.outputs for s in STEPS)


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


def steps(response: dict, case: dict) -> list[dict]:
    d = response.get("decision", {})
    out = []
    for step, due, status, reached in STEPS:
        due_at = _t(d.get(due))
        if due_at:
            out.append({"step": step, "due": due_at, "status": d.get(status) or "pending",
                        "reached": _t(case.get(reached))})
    return out


def svg(response: dict, case: dict, calendar, lang: str) -> Markup | None:
    rows = steps(response, case)
    if not rows:
        return None
    start = _t(case.get("requested_at"))
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
                         f'stroke-width="0.5"/><text x="{x0 + 2}" y="{TOP - 20}" class="day">{d.month}/{d.day}</text>')
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
        colour = COLOURS.get(r["status"], "#57606a")
        name = words.text("step_" + r["step"], lang)
        status = words.value_words(r["step"] + "_status", r["status"], lang) or r["status"]
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
        line = f'{name}：{words.text("due", lang)} {words.moment(r["due"], lang)}'
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
        summary.append(f"{line}，{status}")
    title = words.text("timeline", lang)
    return Markup(
        f'<svg class="timeline" viewBox="0 0 {W} {height}" role="img" aria-labelledby="tl-title tl-desc" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="tl-title">{escape(title)}</title>'
        f'<desc id="tl-desc">{escape("；".join(summary))}</desc>{"".join(parts)}</svg>')


def legend(lang: str) -> list[tuple[str, str, str]]:
    """(css class, colour, words) for the legend under the timeline."""
    out = [("dot", COLOURS[s], words.value_words("response_status", s, lang)) for s in COLOURS]
    out += [("band", WEEKEND, words.text("non_working", lang)), ("band", HOLIDAY, words.text("holiday", lang))]
    return out


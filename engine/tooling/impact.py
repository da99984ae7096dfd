"""`aftersales impact`: which decisions would an edit of the rules change?

The same cases are decided under the base rules (a git revision or a folder) and the
current ones, each with its own `as_of`; the report counts the decisions that
changed, tabulates the transitions of each output (`service_type: free → paid  37`),
sums the money that moves per money output (and the largest single change), and
keeps a few example cases per transition with the rules that decided them before
and after.

Cases come as JSON Lines, one `{"ruleset": …, "case": {…}, "as_of": …}` per line —
the decision log's export has that shape (`ruleset` may be a name or an object with
`name`; `decision_id` identifies the case when present) — or from the entries of the
decision log, which the command layer reads and hands over (`log_lines`). Both rule
books use the Python backend; above a few thousand cases the work is split over a
process pool, each worker loading the two rule books once; a progress bar (tqdm) on
standard error when it is a terminal.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tqdm import tqdm

from engine.evaluation.case import read_as_of
from engine.errors import CaseError, DecisionConflict
from engine.rulebook import RuleBook

PARALLEL_FROM = 2000  # cases; fewer are decided in this process
CHUNK = 500
EXAMPLES = 3
VALUE_TRANSITIONS = ("enum", "boolean", "string", "integer")  # other types: changed / appeared / disappeared
STATUS = "(decision)"  # the pseudo-output for decided / rejected / conflict transitions


class ImpactError(Exception):
    """The comparison cannot run (bad revision, unreadable cases, rules that do not load)."""


# -- where the base rules come from ------------------------------------------------------------
class BaseRules:
    """A folder of rules: given, or extracted from a git revision into a temporary folder."""

    def __init__(self, spec: str, rules_dir: Path):
        self.spec = spec
        self._tmp = None
        if Path(spec).is_dir():
            self.folder, self.label = Path(spec), f"folder {spec}"
            return
        rules_dir = Path(rules_dir).resolve()
        top = _git(rules_dir, "rev-parse", "--show-toplevel")
        if top is None:
            raise ImpactError(f"--base {spec}: not a folder, and {rules_dir} is not in a git repository")
        top = Path(top.strip())
        commit = _git(top, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
        if commit is None:
            raise ImpactError(f"--base {spec}: neither a folder nor a git revision of {top}")
        rel = rules_dir.relative_to(top).as_posix()
        archive = _git(top, "archive", "--format=tar", commit.strip(), "--", rel, binary=True)
        if archive is None:
            raise ImpactError(f"--base {spec}: revision {commit.strip()[:12]} has no folder {rel}")
        self._tmp = tempfile.mkdtemp(prefix="aftersales-base-")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(self._tmp, filter="data")
        self.folder = Path(self._tmp) / rel
        self.label = f"{spec} ({commit.strip()[:12]}:{rel})"

    def close(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _git(cwd: Path, *args, binary=False):
    try:
        p = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False)
    except OSError:
        return None
    if p.returncode != 0:
        return None
    return p.stdout if binary else p.stdout.decode()


# -- reading cases -----------------------------------------------------------------------------
def read_jsonl(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [line for line in fh]
    except OSError as e:
        raise ImpactError(f"{path}: cannot read: {e.strerror}") from None


def log_lines(rows) -> list[str]:
    """Entries of the decision log (dicts with decision_id, ruleset, as_of, case) as JSON Lines."""
    return [json.dumps({"decision_id": row["decision_id"], "ruleset": row["ruleset"],
                        "as_of": row["as_of"], "case": row["case"]}, ensure_ascii=False, default=_json_default)
            for row in rows]


def _json_default(o):
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError(type(o))


# -- deciding one case twice ---------------------------------------------------------------------
@dataclass
class Outcome:
    status: str  # decided | rejected | conflict | no_ruleset
    outputs: dict = field(default_factory=dict)
    fired: list = field(default_factory=list)
    deciders: dict = field(default_factory=dict)  # output → rule ids whose value it took
    detail: str = ""


def decide(book: RuleBook, ruleset: str, case, as_of) -> Outcome:
    loaded = book.rulesets.get(ruleset)
    if loaded is None:
        return Outcome("no_ruleset", detail=f"no rule set {ruleset}")
    try:
        d = loaded.decide(case, as_of=as_of)
    except CaseError as e:
        return Outcome("rejected", detail="; ".join(f"{k}: {' '.join(v)}" for k, v in e.errors.items()))
    except DecisionConflict as e:
        return Outcome("conflict", detail=str(e))
    deciders = {o: list(r.winners) for o, r in d.resolution.items() if r.winners}  # engine.evaluation.resolution
    return Outcome("decided", d.outputs, [f["id"] for f in d.fired], deciders)


@dataclass
class Money:
    total: Decimal = Decimal(0)
    up: Decimal = Decimal(0)
    down: Decimal = Decimal(0)
    cases_up: int = 0
    cases_down: int = 0
    largest: tuple | None = None  # (|change|, -index, change, case id)

    def add(self, delta: Decimal, index: int, case_id):
        self.total += delta
        if delta > 0:
            self.up += delta
            self.cases_up += 1
        elif delta < 0:
            self.down += delta
            self.cases_down += 1
        key = (abs(delta), -index, delta, case_id)
        if delta and (self.largest is None or key[:2] > self.largest[:2]):
            self.largest = key

    def merge(self, other: "Money"):
        self.total += other.total
        self.up += other.up
        self.down += other.down
        self.cases_up += other.cases_up
        self.cases_down += other.cases_down
        if other.largest and (self.largest is None or other.largest[:2] > self.largest[:2]):
            self.largest = other.largest

    def as_dict(self) -> dict:
        return {"total": _money(self.total), "up": _money(self.up), "down": _money(self.down),
                "cases_up": self.cases_up, "cases_down": self.cases_down,
                "largest": None if self.largest is None else {"change": _money(self.largest[2]),
                                                              "case": self.largest[3]}}


def _money(x: Decimal) -> str:
    return f"{x.quantize(Decimal('0.01')):f}"


@dataclass
class Aggregate:
    """What a chunk of cases (or all of them) did; chunks merge in order."""

    cases: int = 0
    unreadable: list = field(default_factory=list)  # (line, message), the first few
    unreadable_count: int = 0
    per_ruleset: Counter = field(default_factory=Counter)
    changed: Counter = field(default_factory=Counter)  # ruleset → decisions changed
    fired_only: Counter = field(default_factory=Counter)  # ruleset → same decision, other rules fired
    transitions: Counter = field(default_factory=Counter)  # (ruleset, output, before, after) → cases
    money: dict = field(default_factory=dict)  # (ruleset, output) → Money
    examples: dict = field(default_factory=dict)  # transition key → [example] (lowest indexes)

    def merge(self, other: "Aggregate"):
        self.cases += other.cases
        self.unreadable = (self.unreadable + other.unreadable)[:10]
        self.unreadable_count += other.unreadable_count
        for name in ("per_ruleset", "changed", "fired_only", "transitions"):
            getattr(self, name).update(getattr(other, name))
        for k, m in other.money.items():
            self.money.setdefault(k, Money()).merge(m)
        for k, ex in other.examples.items():
            mine = self.examples.setdefault(k, [])
            mine.extend(ex)
            mine.sort(key=lambda e: e["index"])
            del mine[EXAMPLES:]


class Comparer:
    """Decides cases under both rule books and aggregates the differences."""

    def __init__(self, base: RuleBook, current: RuleBook, default_ruleset=None, default_as_of=None,
                 examples: int = EXAMPLES):
        self.base, self.current = base, current
        self.default_ruleset, self.default_as_of = default_ruleset, default_as_of
        self.n_examples = examples
        self.types = {}
        for book in (base, current):
            for name, loaded in book.rulesets.items():
                for o, out in loaded.ruleset.outputs.items():
                    self.types.setdefault((name, o), out.result_type)

    def run(self, start: int, lines: list[str]) -> Aggregate:
        agg = Aggregate()
        for i, line in enumerate(lines, start=start):
            if not line.strip():
                continue
            self.one(agg, i, line)
        return agg

    def one(self, agg: Aggregate, index: int, line: str):
        try:
            rec = json.loads(line, parse_float=Decimal)
            if not isinstance(rec, dict) or not isinstance(rec.get("case"), dict):
                raise ValueError("expected {\"ruleset\": …, \"case\": {…}, \"as_of\": …}")
            rs = rec.get("ruleset", self.default_ruleset)
            if isinstance(rs, dict):
                rs = rs.get("name")
            if not isinstance(rs, str):
                raise ValueError("no rule set (give \"ruleset\" or --ruleset)")
            as_of = read_as_of(rec.get("as_of") or self.default_as_of)
        except (ValueError, CaseError) as e:
            agg.unreadable_count += 1
            if len(agg.unreadable) < 10:
                agg.unreadable.append((index, str(e)))
            return
        if self.default_ruleset and rs != self.default_ruleset:
            return
        case_id = rec.get("decision_id") or f"line {index}"
        agg.cases += 1
        agg.per_ruleset[rs] += 1
        before = decide(self.base, rs, rec["case"], as_of)
        after = decide(self.current, rs, rec["case"], as_of)
        if before.status == after.status and before.outputs == after.outputs:
            if before.fired != after.fired:
                agg.fired_only[rs] += 1
            return
        agg.changed[rs] += 1
        keys = []
        if before.status != after.status:
            keys.append((rs, STATUS, before.status, after.status, None))
        for o in sorted(set(before.outputs) | set(after.outputs)):
            b, a = before.outputs.get(o), after.outputs.get(o)
            if b == a:
                continue
            t = self.types.get((rs, o))
            kind = t.kind if t is not None else "any"
            if kind in VALUE_TRANSITIONS:
                keys.append((rs, o, _show(b), _show(a), o))
            else:
                label = "changed" if b is not None and a is not None else "appeared" if a is not None else "disappeared"
                keys.append((rs, o, label, "", o))
            if kind == "money":
                delta = _dec(a) - _dec(b)
                agg.money.setdefault((rs, o), Money()).add(delta, index, case_id)
        for rs_, o, b, a, out in keys:
            key = (rs_, o, b, a)
            agg.transitions[key] += 1
            ex = agg.examples.setdefault(key, [])
            if len(ex) < self.n_examples:
                ex.append(_example(index, case_id, rec, as_of, before, after, out))


def _show(v) -> str:
    if v is None:
        return "(absent)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _dec(v) -> Decimal:
    if v is None:
        return Decimal(0)
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return Decimal(0)


def _example(index, case_id, rec, as_of, before: Outcome, after: Outcome, output) -> dict:
    ex = {"index": index, "case_id": case_id, "as_of": as_of.isoformat(), "case": rec["case"],
          "before": {"status": before.status, "fired": before.fired},
          "after": {"status": after.status, "fired": after.fired}}
    for side, o in (("before", before), ("after", after)):
        if output is not None:
            ex[side]["value"] = o.outputs.get(output)
            ex[side]["decided_by"] = o.deciders.get(output, [])
        if o.detail:
            ex[side]["detail"] = o.detail
    return ex


# -- running it: one process or a pool ----------------------------------------------------------------
_WORKER: Comparer | None = None


def _init_worker(base_dir, current_dir, default_ruleset, default_as_of, examples):
    global _WORKER
    _WORKER = Comparer(RuleBook.load(base_dir, backend="python"), RuleBook.load(current_dir, backend="python"),
                       default_ruleset, default_as_of, examples)


def _work(args) -> Aggregate:
    start, lines = args
    return _WORKER.run(start, lines)


def compare(base_dir, current_dir, lines: list[str], ruleset=None, as_of=None, jobs: int | None = None,
            examples: int = EXAMPLES, progress: bool = False) -> tuple[Aggregate, dict]:
    """Decide every line under both rule folders. Returns the aggregate and the load problems
    ({"base": [...], "current": [...]}, rule sets that failed to load). With `progress`, a
    progress bar on standard error when it is a terminal."""
    base = RuleBook.load(base_dir, backend="python")
    current = RuleBook.load(current_dir, backend="python")
    problems = {"base": [str(p) for p in base.all_problems()], "current": [str(p) for p in current.all_problems()]}
    default_as_of = as_of or read_as_of(None).isoformat()
    jobs = jobs or os.cpu_count() or 1
    total = Aggregate()
    chunks = [(i + 1, lines[i:i + CHUNK]) for i in range(0, len(lines), CHUNK)]
    with tqdm(total=len(lines), desc="impact", unit=" cases", file=sys.stderr, leave=False,
              disable=None if progress else True) as bar:
        if jobs > 1 and len(lines) >= PARALLEL_FROM:
            import multiprocessing as mp
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(jobs, _init_worker,
                          (str(base_dir), str(current_dir), ruleset, default_as_of, examples)) as pool:
                for (_, chunk), agg in zip(chunks, pool.imap(_work, chunks)):
                    _add(total, agg, len(chunk), bar)
        else:
            comparer = Comparer(base, current, ruleset, default_as_of, examples)
            for start, chunk in chunks:
                _add(total, comparer.run(start, chunk), len(chunk), bar)
    return total, problems


def _add(total: Aggregate, agg: Aggregate, cases: int, bar):
    total.merge(agg)
    bar.set_postfix_str(f"{sum(total.changed.values()):,} changed", refresh=False)
    bar.update(cases)


# -- the report -----------------------------------------------------------------------------------------
def report_dict(agg: Aggregate, base_label: str, current_label: str, seconds: float, problems: dict) -> dict:
    rulesets = {}
    for rs in sorted(agg.per_ruleset):
        trans = [{"output": o, "before": b, "after": a, "cases": n,
                  "examples": agg.examples.get((r, o, b, a), [])}
                 for (r, o, b, a), n in sorted(agg.transitions.items(), key=lambda kv: (kv[0][1] != STATUS, -kv[1], kv[0]))
                 if r == rs]
        money = {o: m.as_dict() for (r, o), m in sorted(agg.money.items()) if r == rs}
        rulesets[rs] = {"cases": agg.per_ruleset[rs], "changed": agg.changed[rs],
                        "same_decision_other_rules": agg.fired_only[rs], "transitions": trans, "money": money}
    return {"base": base_label, "current": current_label, "cases": agg.cases,
            "changed": sum(agg.changed.values()), "unreadable": agg.unreadable_count,
            "unreadable_lines": [{"line": i, "error": m} for i, m in agg.unreadable],
            "seconds": round(seconds, 2), "load_problems": problems, "rulesets": rulesets}


def format_text(rep: dict, examples: int = EXAMPLES) -> str:
    out = []
    w = out.append
    w(f"impact of {rep['current']} against base {rep['base']}")
    share = f" ({100 * rep['changed'] / rep['cases']:.1f}%)" if rep["cases"] else ""
    w(f"{rep['cases']:,} cases, {rep['changed']:,} decisions changed{share}; {rep['seconds']:.1f}s")
    if rep["unreadable"]:
        w(f"{rep['unreadable']:,} lines could not be read, e.g. " +
          "; ".join(f"line {u['line']}: {u['error']}" for u in rep["unreadable_lines"][:3]))
    for side, problems in rep["load_problems"].items():
        for p in problems:
            w(f"{side} rules: {p}")
    for rs, r in rep["rulesets"].items():
        w("")
        w(f"{rs}: {r['changed']:,} of {r['cases']:,} decisions changed"
          + (f"; {r['same_decision_other_rules']:,} more decided the same by other rules" if r["same_decision_other_rules"] else ""))
        if r["transitions"]:
            labels = [_label(t) for t in r["transitions"]]
            width = max(len(x) for x in labels) + 2
            w("")
            w(f"  {'transition':<{width}}{'cases':>8}")
            for t, label in zip(r["transitions"], labels):
                w(f"  {label:<{width}}{t['cases']:>8,}")
        if r["money"]:
            w("")
            w(f"  {'money moved':<22}{'net':>14}{'up':>24}{'down':>24}   largest single change")
            for o, m in r["money"].items():
                largest = f"{_signed(m['largest']['change'])} ({m['largest']['case']})" if m["largest"] else "-"
                up = "{} ({:,})".format(_signed(m["up"]), m["cases_up"])
                down = "{} ({:,})".format(_signed(m["down"]), m["cases_down"])
                w(f"  {o:<22}{_signed(m['total']):>14}{up:>24}{down:>24}   {largest}")
        if examples and r["transitions"]:
            w("")
            w("  examples")
            shown = set()
            for t in r["transitions"]:
                w(f"  {_label(t)}")
                for ex in t["examples"][:examples]:
                    b, a = ex["before"], ex["after"]
                    if ex["case_id"] in shown:
                        if "decided_by" in b:
                            values = f"; {_show(b.get('value'))} → {_show(a.get('value'))}" if t["after"] == "" else ""
                            w(f"    {ex['case_id']} (above): decided by {', '.join(b['decided_by']) or '(default)'} → "
                              f"{', '.join(a['decided_by']) or '(default)'}{values}")
                        else:
                            w(f"    {ex['case_id']} (above)")
                        continue
                    shown.add(ex["case_id"])
                    case = json.dumps(ex["case"], ensure_ascii=False, sort_keys=True, default=str)
                    if len(case) > 200:
                        case = case[:197] + "…"
                    w(f"    {ex['case_id']}, as_of {ex['as_of']}: {case}")
                    if "decided_by" in b:
                        w(f"      decided by: {', '.join(b['decided_by']) or '(default)'} → "
                          f"{', '.join(a['decided_by']) or '(default)'}")
                        if t["after"] == "":  # changed / appeared / disappeared: show the values
                            w(f"      {t['output']}: {_show(b.get('value'))} → {_show(a.get('value'))}")
                    gone = [x for x in b["fired"] if x not in a["fired"]]
                    new = [x for x in a["fired"] if x not in b["fired"]]
                    if gone or new:
                        w("      fired: " + " ".join([f"-{x}" for x in gone] + [f"+{x}" for x in new]))
                    for side, o in (("before", b), ("after", a)):
                        if o.get("detail"):
                            w(f"      {side}: {o['status']}: {o['detail']}")
    return "\n".join(out)


def _label(t) -> str:
    if t["output"] == STATUS:
        return f"decision: {t['before']} → {t['after']}"
    if t["after"] == "":
        return f"{t['output']}: {t['before']}"
    return f"{t['output']}: {t['before']} → {t['after']}"


def _signed(s: str) -> str:
    d = Decimal(s)
    return f"+{d:,.2f}" if d > 0 else f"{d:,.2f}"

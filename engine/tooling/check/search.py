"""The local search of `aftersales check`, for the rules the generated cases left out: towards a
case where a rule fires, and, for a rule that fires but never decides, towards a case where it
decides. Each step changes one or two inputs behind the parts that do not hold yet and keeps a
change that does not lose ground. `an` is the running analysis (engine.tooling.check.cases)."""
from __future__ import annotations

from engine.language.conditions import atoms, compile_condition, names_in
from engine.errors import CaseError
from engine.explanation.trace import trace
from engine.model import All, Rule
from engine.tooling.check.candidates import DECISION_DATE

SEARCH_STEPS = 400  # local-search evaluations per rule


def _step(an, case, as_of, names):
    """Change one or two of `names` (any input when none, and now and then) and evaluate:
    (trace, case) or None."""
    if not names or an.rng.random() < 0.2:
        names = list(an.cand.lists)
    k = an.rng.randint(1, 2)
    changes = {n: an.rng.choice(an.cand.lists[n]) for n in an.rng.sample(names, min(k, len(names)))}
    return an.evaluate(an.with_changes(case, changes, as_of), as_of)


def _inputs_of(an, conds) -> list:
    names = {n for c in conds for n in names_in(c)}
    return sorted(an.cand.deps(names) - {DECISION_DATE})


def search(an, rule: Rule, seeds):
    """Hill-climb towards a case where `rule` fires: change inputs behind the parts of its
    condition that do not hold yet; keep a change that does not lose ground."""
    parts = rule.when.items if isinstance(rule.when, All) else (rule.when,)
    fns = [compile_condition(p) for p in parts]
    goal = len(fns) + 1
    eff_inputs = sorted(an.cand.deps(an.rs.effective_date.names if an.rs.effective_date else {"today"})
                        - {DECISION_DATE})

    def score(t):
        if t is None or t.conflict is not None or rule.id not in t.held:
            return -1
        return sum(1 for f in fns if f(t.env) is True) + (1 if t.in_force.get(rule.id) else 0)

    best, best_score = None, -1
    for case, as_of in seeds:
        try:
            t = trace(an.rs, case, as_of, an.matcher)
        except CaseError:
            continue
        if score(t) > best_score:
            best, best_score = (case, as_of, t), score(t)
    if best is None:
        return
    for _ in range(SEARCH_STEPS):
        case, as_of, t = best
        failing = [p for p, f in zip(parts, fns) if f(t.env) is not True]
        names = _inputs_of(an, failing)
        if not t.in_force.get(rule.id):
            names = sorted(set(names) | set(eff_inputs))
        res = _step(an, case, as_of, names)
        if res is None:
            continue
        s = score(res[0])
        if s >= best_score:
            best, best_score = (res[1], as_of, res[0]), s
        if s == goal:
            return
    an.stats[rule.id].closest = best[:2]


def search_decide(an, rule: Rule):
    """`rule` holds on some cases but never decided: walk among the cases where it holds,
    changing the inputs behind the parts of the winning rules' conditions it does not share,
    until it decides an output (it is not dead) or the steps run out."""
    st = an.stats[rule.id]
    own = {a.expr.text for a in atoms(rule.when)}

    def lost(t):
        if t is None or t.conflict is not None or t.held.get(rule.id) is not True or not t.in_force.get(rule.id):
            return None
        if rule.id not in t.fired:
            return len(rule.then) + 1
        return sum(1 for o in rule.then if rule.id not in t.winners.get(o, ()))

    def rivals(t):
        out = set()
        if rule.id in t.shadowed:
            out.add(t.shadowed[rule.id])
        for o in rule.then:
            out |= {w for w in t.winners.get(o, ()) if w != rule.id}
        return out

    current = None
    for _ in range(SEARCH_STEPS):
        if st.decided:
            return
        if current is None or an.rng.random() < 0.1:
            case, as_of = st.held_cases[an.rng.randrange(len(st.held_cases))]
            t = trace(an.rs, case, as_of, an.matcher)
            current = (case, as_of, t, lost(t))
        case, as_of, t, score = current
        theirs = [a for r in rivals(t) for a in atoms(an.rules[r].when) if a.expr.text not in own]
        names = _inputs_of(an, theirs)
        res = _step(an, case, as_of, names)
        if res is None:
            continue
        s = lost(res[0])
        if s is not None and (score is None or s <= score):
            current = (res[1], as_of, res[0], s)

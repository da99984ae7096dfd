"""Running the comparison: in this process, or above a few thousand cases over a process pool
(each worker loads the two rule books once), with a progress bar (tqdm) on standard error."""
from __future__ import annotations

import os
import sys

from tqdm import tqdm

from engine.evaluation.case import read_as_of
from engine.rulebook import RuleBook

from .comparison import EXAMPLES, Aggregate, Comparer

PARALLEL_FROM = 2000  # cases; fewer are decided in this process
CHUNK = 500

_WORKER: Comparer | None = None  # in a pool worker: its Comparer, made once by _init_worker


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
    total = Aggregate(n_examples=examples)
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

"""How long `aftersales export --format parquet` takes on a large decision log, and whether its memory
stays bounded.

    .venv/bin/python bench/export_parquet.py [--decisions 1000000] [--small 100000] [--json FILE]

Makes 200 real decisions through the service (create_app, the four rule sets, 40 with the API's
default explanation and 10 with `explain: full` each), then fills a fresh SQLite decision log with
--decisions copies of them, each with a new id, spread evenly over DAYS days in time order, written
with DecisionLog.record in batches of BATCH prepared entries. Then it exports, each in its own
process (`aftersales export`), an empty window, the first --small decisions and all of them, and
reports each export's wall time and peak RSS (ru_maxrss of that process, from os.wait4): bounded
memory means the peak is about the same at --small and at --decisions.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import create_app  # noqa: E402
from api.decision_log import DecisionLog, LogEntry, PreparedEntry, prepare  # noqa: E402
from api.settings import Settings  # noqa: E402
from engine.rulebook import RuleBook  # noqa: E402
from engine.tooling.cases import valid_cases  # noqa: E402
from engine.types import CHINA  # noqa: E402

BATCH = 1_000        # entries per DecisionLog.record: one commit each
DAYS = 100           # the log spans this many days: 10,000 decisions a day at 1,000,000
START = datetime(2026, 1, 1, tzinfo=CHINA)
RULESETS = ("warranty", "scrap_pricing", "sla", "depreciation")


def templates(tmp: Path) -> list[tuple]:
    """Rows (as `prepare` makes them) of real decisions made through the service."""
    app = create_app(Settings(rules_dir=ROOT / "rules", var_dir=tmp / "app-var", reload_interval=0,
                              development=True), watch=False)
    client = app.test_client()
    book = RuleBook.load(ROOT / "rules", backend="python")
    as_of = datetime(2026, 11, 25, 10, tzinfo=CHINA)
    for name in RULESETS:
        cases = [c for c, _ in valid_cases(book.get(name), 50, seed=5, as_of=as_of, rules_dir=ROOT / "rules")]
        for explain, chunk in (("fired", cases[:40]), ("full", cases[40:])):
            r = client.post(f"/v1/decisions/{name}/batch",
                            json={"cases": chunk, "as_of": as_of.isoformat(), "explain": explain})
            assert r.status_code == 200 and all("decision_id" in i for i in r.get_json()["results"]), r.get_json()
    log = app.extensions["aftersales"].log
    return [prepare(LogEntry(decision_id=e["decision_id"], created_at=datetime.fromisoformat(e["created_at"]),
                             ruleset=e["ruleset"], version=e["version"], digest=e["digest"], as_of=e["as_of"],
                             case=e["case"], response=e["response"], fired=e["fired"],
                             duration_ms=e["duration_ms"], caller=e["caller"], release=e["release"])).row
            for e in log.iter_entries()]


def fill(var: Path, rows: list[tuple], n: int) -> None:
    """n copies of the template rows, new ids, created_at spread evenly over DAYS days in order."""
    step = timedelta(days=DAYS) / n
    with DecisionLog.open(None, var) as dlog:
        for start in range(0, n, BATCH):
            batch = []
            for i in range(start, min(start + BATCH, n)):
                t = rows[i % len(rows)]
                new_id = f"bench-{i:08d}"
                batch.append(PreparedEntry((new_id, START + step * i, *t[2:7], t[7].replace(t[0], new_id), *t[8:])))
            dlog.record(batch)


def export(var: Path, out: Path, since: datetime, until: datetime) -> dict:
    """`aftersales export` of [since, until) in its own process: wall time and peak RSS."""
    env = {**os.environ, "AFTERSALES_VAR": str(var)}
    env.pop("AFTERSALES_DATABASE_URL", None)
    cmd = [str(ROOT / ".venv/bin/aftersales"), "export", "--format", "parquet", "--since", since.isoformat(),
           "--until", until.isoformat(), str(out)]
    with tempfile.TemporaryFile() as stdout:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        said = stdout.read().decode().strip()
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {said}")
    size = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    shutil.rmtree(out)
    return {"said": said, "wall_s": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "parquet_mb": round(size / 2**20, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100_000, help="the smaller export, to compare peak RSS")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aftersales-bench-export-"))
    try:
        rows = templates(tmp)
        var = tmp / "var"
        t0 = time.perf_counter()
        fill(var, rows, args.decisions)
        filled = time.perf_counter() - t0
        db_mb = (var / "decisions.db").stat().st_size / 2**20
        print(f"filled the log with {args.decisions:,} decisions ({len(rows)} templates) in {filled:.0f} s: "
              f"{db_mb:,.0f} MB of SQLite")
        step = timedelta(days=DAYS) / args.decisions
        results = {}
        for label, n in (("empty", 0), ("small", args.small), ("all", args.decisions)):
            # the empty window is the day before the log: the cost of the command itself
            since = START if n else START - timedelta(days=1)
            r = export(var, tmp / "out", since, START + step * n)
            results[label] = {"decisions": n, **r}
            print(f"{n:>10,} decisions: {r['wall_s']:7.1f} s wall, peak RSS {r['peak_rss_mb']:6.1f} MB, "
                  f"Parquet {r['parquet_mb']:,.1f} MB  ({r['said']})")
        if args.json:
            Path(args.json).write_text(json.dumps({"fill_s": round(filled), "sqlite_mb": round(db_mb),
                                                   "exports": results}, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

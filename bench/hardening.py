"""Hardening runs too long for `make test` (which runs shortened ones: tests/e2e/test_hardening.py).

    .venv/bin/python bench/hardening.py concurrency --seconds 60      # 16 threads, durable backend
    .venv/bin/python bench/hardening.py reload-storm --edits 200      # real server, half the edits broken
    .venv/bin/python bench/hardening.py soak --seconds 600 [--rate R] # 70% of saturation, RSS growth
    .venv/bin/python bench/hardening.py fuzz --requests 5000          # schemathesis (tests/e2e/test_schemathesis.py)

Every run talks only to 127.0.0.1 servers it starts itself, is bounded in time and
stops them; each prints its figures and exits non-zero when its goal is not met.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.rulebook import RuleBook  # noqa: E402
from engine.tooling.cases import valid_cases  # noqa: E402


def concurrency(seconds: float, threads: int = 16, cases_per_ruleset: int = 300, memo: bool = False) -> dict:
    """`threads` threads deciding the same cases on one durable RuleBook for `seconds`: every decision
    must equal the serial one, no exception, and the process must still be alive (no native crash).
    The match memo is off unless asked for, so every stage of every decision calls the native engine."""
    from engine.evaluation.backends import durable
    saved = durable.MEMO_SIZE
    durable.MEMO_SIZE = durable.MEMO_SIZE if memo else 0
    try:
        book = RuleBook.load(ROOT / "rules", backend="durable")
    finally:
        durable.MEMO_SIZE = saved
    python = RuleBook.load(ROOT / "rules", backend="python")
    work = [(name, case, as_of) for name in sorted(book.rulesets)
            for case, as_of in valid_cases(python.get(name), cases_per_ruleset, seed=3, rules_dir=ROOT / "rules")]
    serial = [book.decide(n, c, as_of=a, explain="full").to_json() for n, c, a in work]
    errors, mismatches, done = [], [], [0] * threads
    stop = time.monotonic() + seconds

    def worker(k):
        i = k * 37
        while time.monotonic() < stop:
            j = i % len(work)
            name, case, as_of = work[j]
            try:
                got = book.decide(name, case, as_of=as_of, explain="full").to_json()
            except Exception as e:  # noqa: BLE001 - any error is a finding
                errors.append(repr(e))
            else:
                if got != serial[j]:
                    mismatches.append((name, case, as_of))
            done[k] += 1
            i += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    live = sum(m.live_sessions for m in (loaded.matcher._host for loaded in book.rulesets.values()))
    return {"threads": threads, "seconds": seconds, "memo": memo, "decisions": sum(done), "distinct_cases": len(work),
            "errors": len(errors), "first_errors": errors[:3], "mismatches": len(mismatches),
            "live_sessions_after": live, "ok": not errors and not mismatches and live == 0}


def _digest_of(text: str, name: str) -> str:
    from engine.calendar import load_calendar
    from engine.loading.compiler import compile_ruleset
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return compile_ruleset(path, load_calendar(ROOT / "rules" / "calendar.yaml")).digest


REFUSAL_SECONDS = 10.0
"""How long the last (broken) edit of the reload storm may take to show as refused: the watchers poll
every 0.2 s, but on a loaded machine a worker's watcher may wait behind the requests for longer."""


def reload_storm(edits: int, workdir: Path, clients: int = 4, pause: float = 0.12) -> dict:
    """Edit rules/sla.yaml `edits` times under load on the real server (reload every 0.2 s), every
    other edit broken: no request may fail and every decision must name the digest of a valid version."""
    from tests.e2e.test_serve import SLA_CASE, Server, call
    server = Server(workdir)
    path = server.rules / "sla.yaml"
    original = path.read_text(encoding="utf-8")
    valid = {_digest_of(original, "sla")}
    seen, failures, sent, stop = set(), [], [0], threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, d = call(server.url + "/v1/decisions/sla",
                                 {"case": SLA_CASE, "as_of": "2026-11-23T10:00:00+08:00"})
            except OSError as e:
                failures.append(repr(e))
                continue
            sent[0] += 1
            if status != 200:
                failures.append((status, d))
            else:
                seen.add(d["ruleset"]["digest"])

    pool = [threading.Thread(target=load) for _ in range(clients)]
    started = time.monotonic()
    for t in pool:
        t.start()
    try:
        for i in range(edits):
            if i % 2 == 0:
                text = original.replace('version: "2026.1"', f'version: "2026.{i + 2}"')
                valid.add(_digest_of(text, "sla"))
            else:
                text = original + f"\n  - broken edit {i}: [not valid\n"
            path.write_text(text, encoding="utf-8")
            written = time.monotonic()
            time.sleep(pause)
        # the last edit, a broken one, is refused once the watcher has seen it: asked until it says so
        status = {}
        while status.get("status") != "edit_rejected" and time.monotonic() - written < REFUSAL_SECONDS:
            time.sleep(0.2)
            status = {r["name"]: r for r in call(server.url + "/v1/rulesets")[1]["rulesets"]}["sla"]
        refused_after = round(time.monotonic() - written, 1)
    finally:
        stop.set()
        for t in pool:
            t.join()
        server.kill(15)
    unknown = seen - valid
    return {"edits": edits, "broken": edits // 2, "requests": sent[0], "failed": len(failures),
            "first_failures": failures[:3], "digests_seen": len(seen), "digests_not_of_a_valid_version": len(unknown),
            "last_status": status.get("status"), "last_refused_after": refused_after,
            "seconds": round(time.monotonic() - started, 1),
            "ok": not failures and not unknown and sent[0] > 0}


def _rss_kb(pids) -> int:
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def soak(seconds: float, rate: float | None, warm_up: float = 30.0, distinct: int = 20_000) -> dict:
    """POST /v1/decisions/warranty at 70% of saturation for `seconds`, cycling through `distinct`
    generated warranty cases (so the durable match memo fills to its bound and the decision log
    grows with real variety): RSS of the server's processes (master and workers, summed) after a
    warm-up and at the end; growth must stay under 5%."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("http_load", ROOT / "bench" / "http_load.py")
    hl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hl)
    python = RuleBook.load(ROOT / "rules", backend="python")
    bodies = [json.dumps({"case": case, "as_of": as_of}, ensure_ascii=False)
              for case, as_of in valid_cases(python.get("warranty"), distinct, seed=11, rules_dir=ROOT / "rules")]
    with tempfile.TemporaryDirectory(prefix="aftersales-soak-") as tmp:
        server = hl.Server(Path(tmp))
        try:
            if rate is None:
                saturation = hl.wrk(f"http://127.0.0.1:{server.port}/v1/decisions/warranty", 10, 32, True, Path(tmp))
                rate = 0.7 * saturation["rps"]
            hl.paced(server.port, "/v1/decisions/warranty", rate, warm_up, True, bodies=bodies)
            pids = server.pids()
            before = _rss_kb(pids)
            samples, results = [], []
            stop = threading.Event()

            def sample():
                while not stop.wait(30):
                    samples.append((round(time.monotonic() - t0), _rss_kb(pids)))
            t0 = time.monotonic()
            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                results.append(hl.paced(server.port, "/v1/decisions/warranty", rate, seconds, True, bodies=bodies))
            finally:
                stop.set()
                sampler.join()
            after = _rss_kb(pids)
            alive = all(Path(f"/proc/{p}").exists() for p in pids)
        finally:
            server.stop()
    r = results[0]
    growth = (after - before) / before
    return {"seconds": seconds, "rate": round(rate), "distinct_cases": len(bodies), "sent": r["sent"], "failures": r["failures"],
            "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "rss_before_kb": before, "rss_after_kb": after,
            "rss_growth": growth, "rss_samples_kb": samples, "workers_alive": alive,
            "ok": r["failures"] == 0 and growth < 0.05 and alive}


def fuzz(requests: int) -> dict:
    # 15 operations × 2 modes, but hypothesis stops early where an operation has few distinct inputs
    # (150 per operation and mode gave 2,907 requests): ask for a tenth of the requests per operation
    per_operation = max(1, requests // 10)
    env = dict(os.environ, AFTERSALES_FUZZ_EXAMPLES=str(per_operation))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                          "tests/e2e/test_schemathesis.py"], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if "generated requests" in line or "passed" in line
             or "failed" in line]
    sent = [line for line in out.stdout.splitlines() if "generated requests" in line]
    return {"per_operation_and_mode": per_operation, "requests": sent[-1].strip() if sent else None,
            "summary": lines[-2:], "ok": out.returncode == 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("concurrency")
    c.add_argument("--seconds", type=float, default=60)
    c.add_argument("--memo", action="store_true", help="with the durable match memo on (off: every stage native)")
    sub.add_parser("reload-storm").add_argument("--edits", type=int, default=200)
    s = sub.add_parser("soak")
    s.add_argument("--seconds", type=float, default=600)
    s.add_argument("--rate", type=float)
    sub.add_parser("fuzz").add_argument("--requests", type=int, default=5000)
    args = ap.parse_args()
    t0 = time.time()
    if args.what == "concurrency":
        result = concurrency(args.seconds, memo=args.memo)
    elif args.what == "reload-storm":
        with tempfile.TemporaryDirectory(prefix="aftersales-storm-") as tmp:
            result = reload_storm(args.edits, Path(tmp))
    elif args.what == "soak":
        result = soak(args.seconds, args.rate)
    else:
        result = fuzz(args.requests)
    result = {"run": args.what, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t0)),
              "command": " ".join(["bench/hardening.py", *sys.argv[1:]]), **result}
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()

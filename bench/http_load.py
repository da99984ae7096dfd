"""HTTP on loopback: POST /v1/decisions/warranty (decision log on) against a bare Flask endpoint.

    .venv/bin/python bench/http_load.py [--seconds 10] [--rounds 3] [--connections 32] [--json FILE]

One gunicorn server per decision-log durability (--durability, AFTERSALES_DURABILITY: power-loss =
SQLite synchronous=FULL, an fsync per commit; process-crash = synchronous=NORMAL, survives kill -9
of the server), each with the production set-up of `aftersales serve` (2 workers, gthread,
4 threads each) serving the real app plus one extra route, GET /bench/bare, that returns a fixed
JSON body: the ceiling for any Flask service here, through the same hooks (access log, timers).
Only one server is loaded at a time. Then:

1. saturation: wrk (Debian's) with --connections open connections for --seconds against
   the bare endpoint and the decision endpoint of each server, alternating, --rounds times →
   the best round's requests/s (all are reported);
2. half load: a paced client sends at half each decision endpoint's saturation rate, on a
   fixed schedule (latency counted from when a request was due, so a stall is not hidden:
   no coordinated omission) → p50 / p99 latency; likewise for the bare endpoint at half
   its own rate.
wrk and the server share the 2 cores: the figures are for this machine as a whole.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ports import loopback_port  # noqa: E402

BODY = (ROOT / "examples" / "warranty" / "request.json").read_text(encoding="utf-8")
SERVER = r'''
import sys
sys.path.insert(0, {root!r})
from api.serve import _Gunicorn, _child_exit

class App(_Gunicorn):
    def load(self):
        from flask import Response
        from api import create_app
        app = create_app()
        body = '{{"status": "ok", "service": "aftersales", "bare": true}}'
        app.add_url_rule("/bench/bare", "bare", lambda: Response(body, mimetype="application/json"))
        return app

App({{"bind": "127.0.0.1:{port}", "workers": 2, "worker_class": "gthread", "threads": 4, "timeout": 30,
     "graceful_timeout": 10, "child_exit": _child_exit, "accesslog": None, "errorlog": "-",
     "loglevel": "warning"}}).run()
'''




class Server:
    """The benchmark server on 127.0.0.1, in its own process group, with its own rules and log."""

    def __init__(self, workdir: Path, env: dict | None = None):
        self.port = loopback_port()
        rules = workdir / "rules"
        if not rules.exists():
            shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests"))
        self.rules = rules
        script = workdir / "server.py"
        script.write_text(SERVER.format(root=str(ROOT), port=self.port), encoding="utf-8")
        environ = dict(os.environ, AFTERSALES_RULES=str(rules), AFTERSALES_VAR=str(workdir / "var"),
                       PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"), **(env or {}))
        environ.pop("AFTERSALES_DATABASE_URL", None)
        (workdir / "metrics").mkdir(exist_ok=True)
        self.log = open(workdir / "server.log", "w")
        # the access log goes to the file, as it would to a log collector
        self.proc = subprocess.Popen([sys.executable, str(script)], env=environ, cwd=workdir, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("the server did not start: " + (workdir / "server.log").read_text()[-2000:])

    def pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [int(p) for p in out]

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def wrk(url: str, seconds: int, connections: int, post: bool, workdir: Path) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if post:
        script = workdir / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f"wrk.body = {json.dumps(BODY)}\n", encoding="utf-8")
        args += ["-s", str(script)]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "non_2xx": int(non2xx[1]) if non2xx else 0, "socket_errors": errors[1] if errors else "",
            "raw": out}


def paced(port: int, path: str, rate: float, seconds: float, post: bool, threads: int = 8,
          bodies: list | None = None) -> dict:
    """Send `rate` requests/s for `seconds` on a fixed schedule; latency from each request's due time.
    POST bodies: `bodies` in turn (each thread from its own offset), else the example request."""
    latencies, failures, lock = [], [], threading.Lock()
    payloads = [b.encode() for b in bodies] if bodies else [BODY.encode()]
    start = time.perf_counter() + 0.2
    interval = threads / rate

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        due = start + k * interval / threads
        sent = k * 7919
        while due < start + seconds:
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            try:
                if post:
                    conn.request("POST", path, body=payloads[sent % len(payloads)],
                                 headers={"Content-Type": "application/json"})
                    sent += 1
                else:
                    conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except OSError as e:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                r = e
            done = time.perf_counter()
            with lock:
                latencies.append((done - due) * 1000)
                if not ok:
                    failures.append(getattr(r, "status", repr(r)))
            due += interval
        conn.close()

    workers = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    latencies.sort()
    n = len(latencies)
    return {"rate": rate, "sent": n, "failures": len(failures), "p50_ms": latencies[n // 2],
            "p99_ms": latencies[int(n * 0.99) - 1], "max_ms": latencies[-1], "achieved_rps": n / seconds}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--durability", default="process-crash,power-loss",
                    help="comma-separated AFTERSALES_DURABILITY values, one server each")
    ap.add_argument("--json")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench-deps)")
    durabilities = args.durability.split(",")
    with tempfile.TemporaryDirectory(prefix="aftersales-http-") as tmp:
        servers = {}
        try:
            for d in durabilities:
                (Path(tmp) / d).mkdir()
                servers[d] = Server(Path(tmp) / d, {"AFTERSALES_DURABILITY": d})
            url = {d: f"http://127.0.0.1:{srv.port}" for d, srv in servers.items()}
            bare_url = url[durabilities[0]] + "/bench/bare"
            wrk(bare_url, 3, args.connections, False, Path(tmp))  # warm up
            for d in durabilities:
                wrk(url[d] + "/v1/decisions/warranty", 3, args.connections, True, Path(tmp))
            # alternate the endpoints, --rounds times, so drift of a shared machine hits them alike
            bares, decides = [], {d: [] for d in durabilities}
            for _ in range(args.rounds):
                bares.append(wrk(bare_url, args.seconds, args.connections, False, Path(tmp)))
                for d in durabilities:
                    decides[d].append(wrk(url[d] + "/v1/decisions/warranty", args.seconds, args.connections, True,
                                          Path(tmp)))
            # saturation = the best round: what the server can sustain; a slower round is a stall or
            # another job on the machine, and the rounds are all reported
            bare = _best(bares)
            decide = {d: _best(rounds) for d, rounds in decides.items()}
            half_decide = {d: paced(servers[d].port, "/v1/decisions/warranty", decide[d]["rps"] / 2, args.seconds,
                                    True) for d in durabilities}
            half_bare = paced(servers[durabilities[0]].port, "/bench/bare", bare["rps"] / 2, args.seconds, False)
        finally:
            for srv in servers.values():
                srv.stop()
    report = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": args.seconds,
              "connections": args.connections, "bare": bare, "decide": decide,
              "half_load_decide": half_decide, "half_load_bare": half_bare,
              "ratio_decide_to_bare": {d: decide[d]["rps"] / bare["rps"] for d in durabilities}}
    print(f"saturation (wrk -t2 -c{args.connections} -d{args.seconds}s, {args.rounds} alternating rounds, best):")
    print(f"  GET  /bench/bare                           {bare['rps']:8.0f} req/s  rounds "
          f"{[round(r) for r in bare['rounds']]}  non-2xx {bare['non_2xx']}  {bare['socket_errors']}")
    for d in durabilities:
        r = decide[d]
        print(f"  POST /v1/decisions/warranty {d:<14} {r['rps']:8.0f} req/s  rounds {[round(x) for x in r['rounds']]}"
              f"  non-2xx {r['non_2xx']}  {r['socket_errors']}")
        ratio = report["ratio_decide_to_bare"][d]
        print(f"    ratio decide/bare {ratio:.2f}   goal ≥ 0.5: {'met' if ratio >= 0.5 else 'NOT met'}")
    for label, h in [(f"POST /v1/decisions/warranty {d}", half_decide[d]) for d in durabilities] + \
            [("GET  /bench/bare", half_bare)]:
        print(f"half load {label}: {h['rate']:.0f} req/s scheduled, {h['achieved_rps']:.0f} achieved, "
              f"{h['sent']} sent, {h['failures']} failed, p50 {h['p50_ms']:.2f} ms, p99 {h['p99_ms']:.2f} ms, "
              f"max {h['max_ms']:.1f} ms")
    for d in durabilities:
        print(f"  decide p99 ({d}) goal < 25 ms: {'met' if half_decide[d]['p99_ms'] < 25 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def _best(rounds: list) -> dict:
    best = dict(max(rounds, key=lambda r: r["rps"]), rounds=[r["rps"] for r in rounds])
    best["non_2xx"] = sum(r["non_2xx"] for r in rounds)
    return best


if __name__ == "__main__":
    main()

"""`aftersales impact --engine ray --address` on a real two-node Ray cluster: a head node and a
worker node started with `ray start` on loopback (one CPU each, every port in 30000–32767), the
impact of a lower scrap floor (floor_ratio 0.85 → 0.80) over generated scrap cases, and the report
equal to the local engine's. The cluster is always stopped: each `ray start --block` runs in its own
process group, which is ended by its id (`ray stop --force` would end every Ray on the machine, other
people's too), and its temporary folder is removed."""
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.rulebook import RuleBook
from engine.tooling.cases import valid_cases
from tests.conftest import RULES, rules_with_floor_080
from tests.ports import FIRST, LAST

pytest.importorskip("ray")  # the test extra installs it (make test); never skipped there

CASES = 100_000
"""Generated scrap cases: the whole test takes ~55 s on the 2-core build machine (generating 12 s,
the local engine 7 s, the cluster 10 s, Ray 19 s)."""
PORTS = 130  # free ports: the GCS, the autoscaler's metrics, then 60 for each node (its own and its workers')
START_SECONDS = 120  # `ray start` of a node, on a loaded 2-core machine
STOP_SECONDS = 10  # after SIGTERM; then SIGKILL (ray start --block may take longer to stop its node)
BIN = Path(sys.executable).parent
NODE_IP = "127.0.0.2"
"""A loopback address other than 127.0.0.1: Ray 2.60 replaces 127.0.0.1 by the machine's own address
(services.resolve_ip_for_localhost), so the nodes would register, and some agents listen, there."""


def _free_run(n: int) -> int:
    """The first of n consecutive ports in FIRST–LAST that nothing holds on any address (Ray's
    gRPC servers listen on every interface, whatever the node's address)."""
    rng = random.Random()
    for _ in range(100):
        first = rng.randint(FIRST, LAST - n)
        try:
            for port in range(first, first + n):
                with socket.socket() as s:
                    s.bind(("", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {n} free consecutive loopback ports in {FIRST}–{LAST}")


def _node_args(first: int) -> list[str]:
    """Every port a node opens, from `first` on: 6 of its own, then 50 for its workers."""
    names = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")
    args = [f"{name}={first + i}" for i, name in enumerate(names)]
    return args + [f"--min-worker-port={first + 10}", f"--max-worker-port={first + 59}",
                   "--num-cpus=1", f"--node-ip-address={NODE_IP}", "--disable-usage-stats", "--block",
                   "--object-store-memory=300000000"]


class Cluster:
    """A head node and a worker node, each `ray start --block` in its own process group."""

    def __init__(self, tmp: Path):
        self.first = _free_run(PORTS)
        self.address = f"{NODE_IP}:{self.first}"
        self.tmp = tmp
        tmp.mkdir()
        self.procs = []
        # its own token: the default one (~/.ray/auth_token) is shared with every other Ray on the machine
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    # the head's autoscaler serves its metrics here (by default on port 44217)
                    "AUTOSCALER_METRIC_PORT": str(self.first + 2)}

    def start(self):
        first = self.first
        # no Ray Client server: it needs ray[client], which the driver on a node does not use
        head = [str(BIN / "ray"), "start", "--head", f"--port={first}", "--include-dashboard=false",
                f"--temp-dir={self.tmp}"] + _node_args(first + 10)
        self._start(head)
        self._wait_nodes(1)
        worker = [str(BIN / "ray"), "start", f"--address={self.address}"] + _node_args(first + 70)
        self._start(worker)
        self._wait_nodes(2)

    def _start(self, argv):
        with open(self.tmp / f"node{len(self.procs)}.log", "wb") as log:
            self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                               start_new_session=True))

    def _wait_nodes(self, n: int):
        probe = (f"import ray; ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False); "
                 "print(sum(1 for x in ray.nodes() if x['Alive']))")
        host, port = self.address.split(":")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"ray start ended: {self.logs()}")
            try:  # ray.init waits for minutes on a port where nothing listens yet
                socket.create_connection((host, int(port)), timeout=2).close()
            except OSError:
                time.sleep(1)
                continue
            p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=START_SECONDS,
                               env=self.env, check=False)
            if p.returncode == 0 and p.stdout.strip().splitlines()[-1:] == [str(n)]:
                return
            time.sleep(2)
        raise RuntimeError(f"{n} Ray node(s) not up in {START_SECONDS} s: {p.stderr[-2000:]} {self.logs()}")

    def logs(self) -> str:
        return " | ".join((self.tmp / f"node{i}.log").read_text(errors="replace")[-2000:]
                          for i in range(len(self.procs)))

    def stop(self):
        for sig, wait in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, STOP_SECONDS)):
            for p in reversed(self.procs):
                try:
                    os.killpg(p.pid, sig)  # the node's process group: ray start, raylet, GCS, workers
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            for p in self.procs:
                try:
                    p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            if all(p.poll() is not None for p in self.procs) and not any(_group_alive(p.pid) for p in self.procs):
                return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_impact_on_a_two_node_cluster_equals_the_local_report():
    tmp = Path(tempfile.mkdtemp(prefix="asr-"))  # short: Ray's socket paths live under it
    cluster = None
    try:
        lower = rules_with_floor_080(tmp / "rules")
        loaded = RuleBook.load(RULES, backend="python").get("scrap_pricing")
        cases = tmp / "cases.jsonl"
        with open(cases, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"decision_id": f"s-{i}", "ruleset": "scrap_pricing", "as_of": as_of,
                                      "case": case}, ensure_ascii=False) + "\n"
                          for i, (case, as_of) in enumerate(valid_cases(loaded, CASES, seed=7, rules_dir=RULES),
                                                            start=1))
        argv = [str(BIN / "aftersales"), "impact", "--base", str(RULES), "--against", str(lower),
                "--cases", str(cases), "--format", "json", "--no-progress"]
        local = subprocess.run(argv, capture_output=True, text=True, check=True)
        cluster = Cluster(tmp / "ray")
        cluster.start()
        t0 = time.perf_counter()
        on_ray = subprocess.run(argv + ["--engine", "ray", "--address", cluster.address],
                                capture_output=True, text=True, env=cluster.env, check=False)
        assert on_ray.returncode == 0, on_ray.stderr[-3000:]
        print(f"{CASES:,} cases: local {json.loads(local.stdout)['seconds']} s, "
              f"2-node Ray {time.perf_counter() - t0:.1f} s with connecting")
        rep_local, rep_ray = json.loads(local.stdout), json.loads(on_ray.stdout)
        rep_local.pop("seconds"), rep_ray.pop("seconds")
        assert rep_ray == rep_local
        floor = rep_local["rulesets"]["scrap_pricing"]["money"]["floor_price"]
        assert rep_local["cases"] == CASES and floor["cases_down"] > CASES // 10 and floor["cases_up"] == 0
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

"""Hardening, sized for `make test` (the full-length runs are bench/hardening.py, results in
bench/RESULTS.md):

- concurrency: 16 threads deciding on one durable-rules RuleBook for ~8 s, the match memo off
  so every stage calls the native engine — no error, every decision identical to the serial
  one, no session left open, the process alive;
- reload storm: 20 edits of rules/sla.yaml under load on the real server (`aftersales serve`
  on 127.0.0.1), every other one broken — no failed request, every decision names the digest
  of a version that was valid.

The crash test (kill -9 while a client decides; nothing that got a 200 is lost) is
tests/e2e/test_serve.py::test_every_decision_that_got_a_200_survives_kill_9.
"""
from bench.hardening import concurrency, reload_storm


def test_16_threads_decide_exactly_as_a_serial_run():
    result = concurrency(seconds=8, threads=16, cases_per_ruleset=100)
    assert result["decisions"] > 1000, result
    assert result["errors"] == 0, result["first_errors"]
    assert result["mismatches"] == 0
    assert result["live_sessions_after"] == 0


def test_reload_storm_fails_no_request_and_serves_only_valid_versions(tmp_path):
    result = reload_storm(edits=20, workdir=tmp_path, clients=3, pause=0.25)
    assert result["requests"] > 50, result
    assert result["failed"] == 0, result["first_failures"]
    assert result["digests_not_of_a_valid_version"] == 0
    assert result["digests_seen"] >= 2, "the good edits were picked up"
    assert result["last_status"] == "edit_rejected", result  # the last edit is a broken one


def test_group_commit_commits_each_callers_entries_before_returning_and_keeps_errors_apart():
    import threading
    import time

    from api.decisions import GroupCommit

    class SlowLog:
        def __init__(self):
            self.stored, self.calls, self.lock = [], [], threading.Lock()

        def record(self, entries):
            time.sleep(0.005)  # an fsync
            if "bad" in entries:
                raise ValueError("cannot store 'bad'")
            with self.lock:
                self.calls.append(len(entries))
                self.stored.extend(entries)

    log = SlowLog()
    commits = GroupCommit(log)
    outcome = {}

    def caller(k):
        entries = ["bad"] if k == 7 else [f"e{k}.{i}" for i in range(1 + k % 3)]
        for n in range(20):
            item = [f"{e}#{n}" for e in entries] if k != 7 else entries
            try:
                commits.record(item)
            except ValueError:
                outcome.setdefault(k, []).append("error")
                continue
            assert all(e in log.stored for e in item), "returned before its entries were committed"
            outcome.setdefault(k, []).append("ok")

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome[7] == ["error"] * 20
    assert all(outcome[k] == ["ok"] * 20 for k in range(7))
    assert len(log.stored) == sum(20 * (1 + k % 3) for k in range(7))
    assert commits.groups < 8 * 20, "some concurrent callers shared a commit"

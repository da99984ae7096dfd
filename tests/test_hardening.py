"""Hardening, sized for `make test` (the full-length runs are bench/hardening.py, results in
bench/RESULTS.md):

- concurrency: 16 threads deciding on one durable-rules RuleBook for ~8 s — no error, every
  decision identical to the serial one, no session left open, the process alive;
- reload storm: 20 edits of rules/sla.yaml under load on the real server (`aftersales serve`
  on 127.0.0.1), every other one broken — no failed request, every decision names the digest
  of a version that was valid.

The crash test (kill -9 while a client decides; nothing that got a 200 is lost) is
tests/test_serve.py::test_every_decision_that_got_a_200_survives_kill_9.
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
    assert result["last_status"] == "edit_rejected"  # the last edit is a broken one

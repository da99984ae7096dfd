"""`aftersales impact --engine ray` on a local Ray (ray.init(num_cpus=2) in this process): the report
is the local engine's, number for number; --base / --against take a release id; bad options say so."""
import json

import pytest

from aftersales.cli import main
from engine.rulebook import RuleBook
from engine.tooling import impact
from engine.tooling.cases import valid_cases
from engine.tooling.impact import distributed
from tests.conftest import RULES, rules_with_floor_080

ray = pytest.importorskip("ray")  # the test extra installs it (make test); never skipped there

CASES = 4500  # three blocks of the dataset (2,000 + 2,000 + 500), each more than one local chunk
UNREADABLE_EVERY = 150  # more unreadable lines than the report lists, spread over every block


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def lower_floor(tmp_path_factory):
    """The shipped rules with the scrap floor at 80 % of the market price instead of 85 %."""
    return rules_with_floor_080(tmp_path_factory.mktemp("floor") / "rules")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Generated scrap cases, with unreadable lines and blank lines among them."""
    loaded = RuleBook.load(RULES, backend="python").get("scrap_pricing")
    lines = [json.dumps({"decision_id": f"s-{i}", "ruleset": "scrap_pricing", "as_of": as_of, "case": case},
                        ensure_ascii=False)
             for i, (case, as_of) in enumerate(valid_cases(loaded, CASES, seed=3), start=1)]
    for i in range(UNREADABLE_EVERY, len(lines), UNREADABLE_EVERY):
        lines[i] = "" if i % (2 * UNREADABLE_EVERY) else "{not json"
    path = tmp_path_factory.mktemp("cases") / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _report(argv, capsys) -> dict:
    assert main(argv + ["--format", "json", "--no-progress"]) == 0
    rep = json.loads(capsys.readouterr().out)
    rep.pop("seconds")
    return rep


@pytest.mark.e2e  # a Ray started for the module: ~10 s, and ~20 s a test on this machine
def test_ray_gives_the_local_report_number_for_number(local_ray, lower_floor, corpus, capsys):
    argv = ["impact", "--base", str(RULES), "--against", str(lower_floor), "--cases", str(corpus), "--examples", "1"]
    local = _report(argv, capsys)
    on_ray = _report(argv + ["--engine", "ray"], capsys)
    assert on_ray == local
    scrap = local["rulesets"]["scrap_pricing"]
    assert local["unreadable"] > len(local["unreadable_lines"]) == 10
    floor = next(t for t in scrap["transitions"] if t["output"] == "floor_price")
    assert floor["cases"] > 100 and scrap["money"]["floor_price"]["cases_down"] == floor["cases"]
    first = [e["index"] for e in floor["examples"]]
    assert first == sorted(first) and first[0] < 500  # the lowest lines, in both engines


@pytest.mark.e2e
def test_a_folder_of_case_files_reads_as_one_file(local_ray, lower_floor, corpus, tmp_path, capsys):
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.jsonl").write_text("".join(lines[:2500]), encoding="utf-8")
    (folder / "b.jsonl").write_text("".join(lines[2500:]), encoding="utf-8")
    argv = ["impact", "--base", str(RULES), "--against", str(lower_floor)]
    assert (_report(argv + ["--cases", str(folder), "--engine", "ray"], capsys)
            == _report(argv + ["--cases", str(corpus)], capsys))


@pytest.mark.e2e
def test_the_decision_log_replays_on_ray_as_locally(local_ray, lower_floor, corpus, tmp_path, monkeypatch, capsys):
    """`--log` streams the log to the cluster in blocks of LOG_BLOCK lines: more than one block here."""
    from datetime import datetime, timedelta, timezone

    from aftersales.impact import LOG_BLOCK
    from api.decision_log import DecisionLog, LogEntry

    var = tmp_path / "var"
    monkeypatch.setenv("AFTERSALES_VAR", str(var))
    monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)
    readable = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.startswith("{\"")]
    start = datetime(2026, 11, 2, tzinfo=timezone.utc)
    with DecisionLog.open(None, var) as dlog:
        dlog.record([LogEntry(c["decision_id"], start + timedelta(seconds=i), "scrap_pricing", "1", "sha256:x",
                              c["as_of"], c["case"], {}, [], 1.0, "test") for i, c in enumerate(readable)])
    assert len(readable) > LOG_BLOCK
    argv = ["impact", "--base", str(RULES), "--against", str(lower_floor), "--log", "--since", "2026-11-01"]
    on_ray = _report(argv + ["--engine", "ray"], capsys)
    assert on_ray == _report(argv, capsys) and on_ray["cases"] == len(readable)
    assert on_ray["rulesets"]["scrap_pricing"]["money"]["floor_price"]["cases_down"] > 100


@pytest.mark.e2e
def test_no_cases_is_an_empty_report(local_ray, tmp_path):
    agg, problems = distributed.compare(RULES, RULES, [])
    assert agg == impact.Aggregate() and problems == {"base": [], "current": []}


def test_base_and_against_are_releases_of_the_store(lower_floor, corpus, tmp_path, monkeypatch, capsys):
    from db import Database
    from releases.snapshot import read_folder
    from releases.store import ReleaseStore

    var = tmp_path / "var"
    monkeypatch.setenv("AFTERSALES_VAR", str(var))
    monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)
    store = ReleaseStore(Database.from_url(None, var))
    ids = [store.create(read_folder(folder), author="ann", message=m, origin="import", parent=None, rulesets={},
                        load_problems=[])["id"]
           for folder, m in ((RULES, "shipped"), (lower_floor, "floor 80 %"))]
    store.close()
    by_release = _report(["impact", "--base", ids[0], "--against", ids[1], "--cases", str(corpus)], capsys)
    by_folder = _report(["impact", "--base", str(RULES), "--against", str(lower_floor), "--cases", str(corpus)],
                        capsys)
    assert by_release["base"].startswith(f"release {ids[0]} (sha256:")
    assert {k: v for k, v in by_release.items() if k not in ("base", "current")} == \
           {k: v for k, v in by_folder.items() if k not in ("base", "current")}
    assert main(["impact", "--base", "r999", "--cases", str(corpus)]) == 2
    assert "--base r999: no release 'r999'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--address", "127.0.0.1:9"], "--address is for --engine ray"),
    (["--engine", "ray", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: no Ray head node answers there"),
    (["--against", "no-such-revision"], "--against no-such-revision: neither a folder nor a git revision"),
])
def test_bad_options_exit_2_naming_the_option(corpus, capsys, argv, message):
    assert main(["impact", "--base", str(RULES), "--cases", str(corpus)] + argv) == 2
    assert message in capsys.readouterr().err

"""`aftersales export --format parquet` (aftersales/export.py): the decision log, read back from the
Parquet files, column for column; partitions by rule set and China date; the --since/--until window;
masked personal data; bounded writers; refusals of bad options and of a DIR that is in use."""
import json
import shutil
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from aftersales import export as export_module
from aftersales.cli import main
from api import create_app
from api.decision_log import DecisionLog, LogEntry
from api.settings import Settings
from engine.rulebook import RuleBook
from engine.tooling.cases import valid_cases
from engine.types import CHINA
from tests.conftest import RULES

AS_OF = datetime(2026, 11, 25, 10, tzinfo=CHINA)
MONEY_CASE = {"product_line": "electronics", "item": "main_unit", "purchase_date": "2026-03-10",
              "fault_cause": "manufacturing", "request": "return", "service_channel": "workshop",
              "price": "4599.00"}


def make_app(tmp_path, monkeypatch, database_url=None):
    """The service with its decision log where `aftersales export` reads it: `database_url`, else
    SQLite in tmp_path/var."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    monkeypatch.setenv("AFTERSALES_VAR", str(tmp_path / "var"))
    if database_url:
        monkeypatch.setenv("AFTERSALES_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)
    return create_app(Settings(rules_dir=rules, var_dir=tmp_path / "var", reload_interval=0, backend="python",
                               development=True, database_url=database_url), watch=False)


@pytest.fixture
def app(tmp_path, monkeypatch):
    return make_app(tmp_path, monkeypatch)


def run_export(capsys, *args) -> tuple[int, str, str]:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def read_back(folder) -> dict[str, dict]:
    """Every row of the export as pyarrow reads the hive-partitioned folder, by decision id."""
    return {row["decision_id"]: row for row in pq.read_table(folder).to_pylist()}


def partitions(folder) -> set[str]:
    return {str(p.relative_to(folder).parent) for p in folder.rglob("*.parquet")}


def china_day(created_at: str) -> str:
    return datetime.fromisoformat(created_at).astimezone(CHINA).date().isoformat()


def test_every_logged_decision_comes_back_column_for_column(tmp_path, monkeypatch, capsys, db_url):
    client = make_app(tmp_path, monkeypatch, db_url).test_client()
    book = RuleBook.load(RULES, backend="python")
    for i, name in enumerate(("warranty", "scrap_pricing", "sla", "depreciation")):
        cases = [case for case, _ in valid_cases(book.get(name), 30, seed=3, as_of=AS_OF, rules_dir=RULES)]
        r = client.post(f"/v1/decisions/{name}/batch", json={"cases": cases, "as_of": AS_OF.isoformat(),
                                                             "explain": ("fired", "full")[i % 2]})
        assert all("decision_id" in item for item in r.get_json()["results"])
    refund = client.post("/v1/decisions/warranty", json={"case": MONEY_CASE, "as_of": "2026-11-25"}).get_json()
    # the log as the audit API gives it: what the export must hold
    logged = client.get("/v1/decisions?limit=1000").get_json()["items"]
    assert len(logged) == 121

    out = tmp_path / "export"
    code, stdout, _ = run_export(capsys, "--format", "parquet", str(out))
    assert code == 0
    assert stdout.startswith("exported 121 decisions to ")
    rows = read_back(out)
    assert set(rows) == {e["decision_id"] for e in logged}
    for e in logged:
        row = rows[e["decision_id"]]
        assert row["created_at"] == datetime.fromisoformat(e["created_at"])
        assert row["created_at"].utcoffset() == timedelta(0)
        assert (row["ruleset"], row["date"]) == (e["ruleset"], china_day(e["created_at"]))
        assert (row["version"], row["digest"], row["release"], row["as_of"], row["caller"]) == \
            (e["version"], e["digest"], e["release"], e["as_of"], e["caller"])
        assert json.loads(row["case"]) == e["case"]
        assert json.loads(row["decision"]) == e["response"]["decision"]
        assert row["fired"] == e["fired"]
        assert row["duration_ms"] == e["duration_ms"]
    assert partitions(out) == {f"ruleset={e['ruleset']}/date={china_day(e['created_at'])}" for e in logged}
    # money is JSON text with every digit, never a float
    money = rows[refund["decision_id"]]
    assert '"price":"4599.00"' in money["case"]
    amounts = {k: v for k, v in refund["decision"].items() if isinstance(v, str) and v.replace(".", "").isdigit()
               and "." in v}
    assert amounts and all(f'"{k}":"{v}"' in money["decision"] for k, v in amounts.items())


def relog(app, tmp_path, times: dict[str, list[datetime]]) -> list[str]:
    """Log copies of real decisions (one per rule set, made through the app) at the given times, each
    with a new id; returns the ids in the order logged."""
    client = app.test_client()
    originals = {}
    for name, body in (("warranty", {"case": MONEY_CASE}),
                       ("depreciation", {"case": {"cost": "1000.00", "stock_in_date": "2026-01-31"}}),
                       ("sla", {"case": {"kind": "repair", "requested_at": "2026-11-23T09:00:00+08:00"}})):
        d = client.post(f"/v1/decisions/{name}", json={**body, "as_of": "2026-11-25T10:00:00+08:00"}).get_json()
        originals[name] = d
    ids = []
    with DecisionLog.open(None, tmp_path / "var") as dlog:
        entries = []
        for name, moments in times.items():
            d = originals[name]
            for t in moments:
                ids.append(f"{name}-{t.isoformat()}-{len(ids)}")
                entries.append(LogEntry(decision_id=ids[-1], created_at=t, ruleset=name, version=d["ruleset"]["version"],
                                        digest=d["ruleset"]["digest"], as_of=d["as_of"], case={"n": len(ids)},
                                        response={**d, "decision_id": ids[-1]}, fired=[f["id"] for f in d["fired"]],
                                        duration_ms=1.5, caller="relog", release=d["release"]))
        dlog.record(entries)
    return ids


def test_partitions_follow_the_china_date_and_the_window_is_since_inclusive_until_exclusive(app, tmp_path, capsys):
    utc = UTC
    inside = [datetime(2026, 11, 23, 16, tzinfo=utc),                  # 2026-11-24 00:00 China
              datetime(2026, 11, 24, 15, 59, 59, 999999, tzinfo=utc),  # 2026-11-24 23:59:59.999999 China
              datetime(2026, 11, 24, 16, tzinfo=utc),                  # 2026-11-25 00:00 China
              datetime(2026, 11, 25, 15, 59, 59, tzinfo=utc)]          # 2026-11-25 23:59:59 China
    outside = [datetime(2026, 11, 23, 15, 59, 59, tzinfo=utc), datetime(2026, 11, 25, 16, tzinfo=utc)]
    ids = relog(app, tmp_path, {"warranty": inside + outside, "depreciation": inside[1:3]})
    wanted = {ids[i] for i in (0, 1, 2, 3, 6, 7)}

    out = tmp_path / "window"
    code, stdout, _ = run_export(capsys, "--since", "2026-11-24", "--until", "2026-11-26", str(out))
    assert code == 0, stdout
    rows = read_back(out)
    assert set(rows) == wanted
    assert partitions(out) == {"ruleset=warranty/date=2026-11-24", "ruleset=warranty/date=2026-11-25",
                               "ruleset=depreciation/date=2026-11-24", "ruleset=depreciation/date=2026-11-25"}
    assert rows[ids[1]]["date"] == "2026-11-24" and rows[ids[2]]["date"] == "2026-11-25"
    assert rows[ids[1]]["created_at"] == inside[1]


def test_writers_stay_bounded_and_every_row_is_written_once(app, tmp_path, capsys, monkeypatch):
    """Two rule sets interleaved within each day and a third now and then, with room for two open
    files and seven rows a row group: the least recently used file is closed, its partition's later
    rows go to a new part, and nothing is lost or doubled."""
    monkeypatch.setattr(export_module, "ROW_GROUP_ROWS", 7)
    monkeypatch.setattr(export_module, "MAX_BUFFERED_ROWS", 10)
    monkeypatch.setattr(export_module, "MAX_OPEN_WRITERS", 2)
    open_now, most = [0], [0]

    class CountingWriter(pq.ParquetWriter):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])

        def close(self):
            if self.is_open:
                open_now[0] -= 1
            super().close()

    monkeypatch.setattr(pq, "ParquetWriter", CountingWriter)
    start = datetime(2026, 11, 1, tzinfo=CHINA)
    times = {n: [start + timedelta(days=day, minutes=2 * i + k) for day in range(3) for i in range(20)]
             for k, n in enumerate(("warranty", "depreciation"))}
    times["sla"] = [start + timedelta(days=day, minutes=m) for day in range(3) for m in (15.5, 29.5)]
    ids = relog(app, tmp_path, times)

    out = tmp_path / "bounded"
    code, stdout, _ = run_export(capsys, "--since", "2026-11-01", "--until", "2026-11-04", str(out))
    assert code == 0, stdout
    assert most[0] == 2 and open_now[0] == 0
    rows = pq.read_table(out).column("decision_id").to_pylist()
    assert sorted(rows) == sorted(ids)
    files = sorted(out.rglob("*.parquet"))
    assert {f.name for f in files} > {"part-00000.parquet", "part-00001.parquet"}   # reopened partitions
    assert len(partitions(out)) == 9
    for f in files:
        meta = pq.ParquetFile(f).metadata
        assert all(0 < meta.row_group(g).num_rows <= 7 for g in range(meta.num_row_groups))
    assert stdout.strip().endswith(f"9 partitions, {len(files)} files")


def test_personal_data_is_masked_in_the_parquet_too(app, tmp_path, capsys):
    path = tmp_path / "rules" / "depreciation.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("inputs:\n", "inputs:\n  keeper_phone: {type: string, title: 保管人电话, pii: true}\n", 1),
                    encoding="utf-8")
    app.extensions["aftersales"].source.reload()
    case = {"cost": "1000.00", "stock_in_date": "2026-01-31", "keeper_phone": "13800138000"}
    r = app.test_client().post("/v1/decisions/depreciation", json={"case": case, "as_of": "2026-11-25"})
    assert r.status_code == 200 and r.get_json()["decision_id"]

    out = tmp_path / "export"
    assert run_export(capsys, str(out))[0] == 0
    (row,) = read_back(out).values()
    assert json.loads(row["case"]) == {**case, "keeper_phone": "***"}
    assert "13800138000" not in json.dumps(row, default=str, ensure_ascii=False)


@pytest.mark.parametrize("args, message", [
    (["--since", "2026-13-01"], "--since '2026-13-01'"),
    (["--until", "yesterday"], "--until 'yesterday'"),
    (["--since", "2026-11-25", "--until", "2026-11-24"], "--since 2026-11-25 is not before --until 2026-11-24"),
    (["--format", "csv"], "'csv' is not 'parquet'"),
])
def test_a_bad_option_exits_2_naming_it(app, tmp_path, capsys, args, message):
    code, _, err = run_export(capsys, *args, str(tmp_path / "export"))
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "export").exists()


def test_a_directory_in_use_is_refused_and_an_earlier_export_replaced_only_with_overwrite(app, tmp_path, capsys):
    ids = relog(app, tmp_path, {"warranty": [datetime(2026, 11, 2, 10, tzinfo=CHINA)],
                                "sla": [datetime(2026, 11, 3, 10, tzinfo=CHINA)]})
    out = tmp_path / "export"
    assert run_export(capsys, "--until", "2026-11-03", str(out))[0] == 0
    assert set(read_back(out)) == {ids[0]}

    code, _, err = run_export(capsys, "--since", "2026-11-03", str(out))
    assert code == 2 and "is not empty: give --overwrite" in err
    assert set(read_back(out)) == {ids[0]}
    assert run_export(capsys, "--since", "2026-11-03", "--until", "2026-11-04", "--overwrite", str(out))[0] == 0
    assert set(read_back(out)) == {ids[1]}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export")] == []   # no work folder left

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    code, _, err = run_export(capsys, "--overwrite", str(mine))
    assert code == 2 and "holds notes.txt, which no export writes" in err
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep me"

    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    code, _, err = run_export(capsys, str(tmp_path / "a-file"))
    assert code == 2 and "is a file" in err


def test_a_missing_log_or_a_bad_database_url_is_named_not_created(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)
    monkeypatch.setenv("AFTERSALES_VAR", str(tmp_path / "typo"))
    code, _, err = run_export(capsys, str(tmp_path / "export"))
    assert code == 1 and f"no decision log at {tmp_path / 'typo' / 'decisions.db'}" in err
    assert not (tmp_path / "typo" / "decisions.db").exists() and not (tmp_path / "export").exists()
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", "mysql://db/log")
    code, _, err = run_export(capsys, str(tmp_path / "export"))
    assert code == 2 and "AFTERSALES_DATABASE_URL: unsupported database URL scheme 'mysql'" in err

"""Fuzz of hostile client input (issue 10: the classes of items 1, 7, 11, 13 and 16), generated
by hypothesis against the Flask test client and the CLI: huge integers and exponents, huge and
overflowing decimals, deep nesting, lone surrogates, out-of-range and oddly written dates and
date-times (in the body and the query), duplicate keys, chunked bodies around the size limit,
hostile case files. Whatever is generated: no 5xx, no traceback, a problem+json (or exit 2)
naming the field or the place, and each answer within BOUND seconds."""
import io
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales import cli
from engine.rulebook import RuleBook

from tests.conftest import ROOT
from tests.api.test_api import WARRANTY_CASE, make_app

BOUND = 1.0  # seconds per request or CLI run; the refusals measured take 0.1–3 ms (bench: a decision ~1 ms)
LIMIT = 4096  # body limit of the app the chunked bodies go to, small so that bodies around it are cheap
FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))

SLA_CASE = {"kind": "repair", "requested_at": "2026-11-23T09:00:00+08:00"}
SCRAP_CASE = json.loads((ROOT / "examples/scrap_pricing/waste_oil_below_floor.json").read_text())
RULESETS = {  # a valid case per rule set and, per kind of value, a field of that kind
    "warranty": (WARRANTY_CASE, {"integer": "repairs_same_fault", "money": "price", "decimal": "compensation_rate",
                                 "date": "purchase_date"}),
    "sla": (SLA_CASE, {"datetime": "requested_at"}),
    "scrap_pricing": (SCRAP_CASE, {"string": "special_reason"}),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("fuzz")).test_client()


@pytest.fixture(scope="module")
def small_client(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("fuzz-small"), max_body_bytes=LIMIT).test_client()


def send(client, path, text=None, **kw):
    started = time.perf_counter()
    if text is None:
        r = client.get(path, **kw)
    else:
        r = client.post(path, data=text.encode("utf-8", "surrogatepass"), content_type="application/json", **kw)
    elapsed = time.perf_counter() - started
    assert r.status_code < 500, r.get_data(as_text=True)[:500]
    assert elapsed < BOUND, f"{elapsed:.2f} s for {path} {(text or '')[:200]!r}"
    if r.status_code >= 400:
        assert r.mimetype == "application/problem+json", r.get_data(as_text=True)[:300]
    return r


def names(r, field: str) -> bool:
    """The problem names `field` (an errors key, or in its detail: the key, the line and column)."""
    body = r.get_json()
    return field in (body.get("errors") or {}) or field in body.get("detail", "")


def request_text(ruleset: str, field: str, raw: str, as_of='"2026-11-25"') -> str:
    case, _ = RULESETS[ruleset]
    fields = json.dumps({k: v for k, v in case.items() if k != field})[1:-1]
    return f'{{"case": {{{fields}, "{field}": {raw}}}, "as_of": {as_of}}}'


# --- the generated classes ------------------------------------------------------------------------

digits = st.integers(16, 6000).map(lambda n: "9" * n)
exponents = st.builds(lambda m, sign, e: f"{m}E{sign}{e}", st.sampled_from(["1", "-7", "9.99", "0", "123.456"]),
                      st.sampled_from(["+", "-", ""]), st.integers(16, 2_000_000))
huge_numbers = st.one_of(digits, exponents, st.sampled_from(["1e28", "-9.99e40", "1E+15", "1e-21", "0E+99"]))
as_text = st.booleans()  # a number as a JSON number, or as a numeric string


def years(lo, hi):
    return st.integers(lo, hi).map(lambda y: f"{y:04d}")


offsets = st.builds(lambda s, h, m: f"{s}{h:02d}:{m:02d}", st.sampled_from("+-"), st.integers(0, 23),
                    st.integers(0, 59)) | st.just("Z") | st.just("")
out_of_range_years = years(1, 1899) | years(2200, 9999)
out_of_range_dates = st.builds(lambda y, m, d: f"{y}-{m:02d}-{d:02d}", out_of_range_years, st.integers(1, 12),
                               st.integers(1, 28))
out_of_range_datetimes = st.builds(lambda d, h, o: f"{d}T{h:02d}:00:00{o}", out_of_range_dates, st.integers(0, 23),
                                   offsets)
odd_dates = st.one_of(
    st.builds(lambda y, w, d: f"{y}-W{w:02d}-{d}", years(1900, 2199), st.integers(1, 52), st.integers(1, 7)),
    st.builds(lambda y, w, d: f"{y}W{w:02d}{d}", years(1900, 2199), st.integers(1, 52), st.integers(1, 7)),
    st.builds(lambda y, n: f"{y}-{n:03d}", years(1900, 2199), st.integers(1, 365)),
    st.builds(lambda y, m, d: f"{y}{m:02d}{d:02d}", years(1900, 2199), st.integers(1, 12), st.integers(1, 28)),
    st.builds(lambda y, m, d: f"{y}/{m:02d}/{d:02d}", years(1900, 2199), st.integers(1, 12), st.integers(1, 28)),
)
lone_surrogates = st.integers(0xD800, 0xDFFF).map(lambda c: f"\\u{c:04x}")  # one: never a pair
plain_text = st.text(st.characters(codec="utf-8", exclude_characters='"\\'), max_size=20)


# --- item 1 and 7: numbers ------------------------------------------------------------------------

@FUZZ
@given(number=huge_numbers, quoted=as_text, kind=st.sampled_from(["integer", "money", "decimal"]))
def test_a_huge_number_in_any_numeric_field_is_refused_naming_it(client, number, quoted, kind):
    field = RULESETS["warranty"][1][kind]
    r = send(client, "/v1/decisions/warranty", request_text("warranty", field, f'"{number}"' if quoted else number))
    if r.status_code == 200:  # only a number that is in fact small (0E+99 as money is 0; 1e-21 as decimal)
        return
    assert r.status_code == 422 and names(r, f"case.{field}"), r.get_json()


@FUZZ
@given(name=st.sampled_from(["limit", "since", "until"]), value=huge_numbers)
def test_a_huge_number_in_a_query_parameter_is_a_400_naming_it(client, name, value):
    r = send(client, f"/v1/decisions?{name}={value.replace('+', '%2B')}")
    assert r.status_code in (400, 414) and (r.status_code == 414 or names(r, name))


# --- item 7: nesting, surrogates, dates out of range, batches --------------------------------------

@FUZZ
@given(depth=st.integers(33, 5000), opener=st.sampled_from(["[", '{"a":']), where=st.sampled_from(["case", "field"]))
def test_deep_nesting_is_a_400_saying_where(client, depth, opener, where):
    closer = "]" if opener == "[" else "}"
    deep = opener * depth + "1" + closer * depth
    text = request_text("warranty", "product_category", deep) if where == "field" else f'{{"case": {deep}}}'
    r = send(client, "/v1/decisions/warranty", text)
    assert r.status_code in (400, 413) and (r.status_code == 413 or "nested deeper than" in r.get_json()["detail"])


@FUZZ
@given(before=plain_text, escape=lone_surrogates, after=plain_text, in_key=st.booleans())
def test_a_lone_surrogate_is_a_422_naming_the_field(client, before, escape, after, in_key):
    raw = json.dumps(before)[:-1] + escape + json.dumps(after)[1:]
    if in_key:  # in a field name: named as written, escaped
        text = request_text("scrap_pricing", "special_reason", '"fine"')[:-len('"as_of": "2026-11-25"}') - 3]
        text += f', {raw}: 1}}, "as_of": "2026-11-25"}}'
        r = send(client, "/v1/decisions/scrap_pricing", text)
        assert r.status_code == 422 and any(k.startswith("case.") for k in r.get_json()["errors"]), r.get_json()
        return
    r = send(client, "/v1/decisions/scrap_pricing", request_text("scrap_pricing", "special_reason", raw))
    assert r.status_code == 422 and names(r, "case.special_reason"), r.get_json()


@FUZZ
@given(value=out_of_range_dates | out_of_range_datetimes, place=st.sampled_from(["as_of", "date", "datetime"]))
def test_a_date_out_of_range_is_refused_naming_the_field(client, value, place):
    if place == "as_of":
        ruleset, field, text = "warranty", "as_of", json.dumps({"case": WARRANTY_CASE, "as_of": value})
    else:
        ruleset = "warranty" if place == "date" else "sla"
        name = RULESETS[ruleset][1][place]
        field, text = f"case.{name}", request_text(ruleset, name, json.dumps(value))
    r = send(client, f"/v1/decisions/{ruleset}", text)
    assert r.status_code == 422 and names(r, field), (value, r.get_json())


@FUZZ
@given(name=st.sampled_from(["since", "until"]), value=out_of_range_dates | out_of_range_datetimes | odd_dates)
def test_a_date_out_of_range_in_the_query_is_a_400_naming_it(client, name, value):
    r = send(client, "/v1/decisions", query_string={name: value})
    assert r.status_code == 400 and names(r, name), (value, r.get_json())


bad_items = st.one_of(
    st.just("null"), st.just("5"), st.just('"text"'), st.just("[]"), st.just("true"),
    huge_numbers.map(lambda n: json.dumps(dict(WARRANTY_CASE))[:-1] + f', "price": {n}}}'),
    out_of_range_dates.map(lambda d: json.dumps(dict(WARRANTY_CASE, purchase_date=d))),
    odd_dates.map(lambda d: json.dumps(dict(WARRANTY_CASE, purchase_date=d))),
)


@FUZZ
@given(items=st.lists(st.tuples(st.booleans(), bad_items), min_size=1, max_size=8))
def test_in_a_batch_each_hostile_case_is_one_error_item(client, items):
    texts = [json.dumps(WARRANTY_CASE) if good else bad for good, bad in items]
    r = send(client, "/v1/decisions/warranty/batch", f'{{"cases": [{", ".join(texts)}], "as_of": "2026-11-25"}}')
    if r.status_code == 413:
        return
    assert r.status_code == 200, r.get_json()
    results = r.get_json()["results"]
    assert len(results) == len(items)
    for i, ((good, _), result) in enumerate(zip(items, results)):
        if good:
            assert "decision" in result
        elif "error" in result:
            assert result["error"]["status"] == 422 and result["index"] == i
            assert all(k == f"cases[{i}]" or k.startswith("case.") for k in result["error"]["errors"]), result


# --- item 13: duplicate keys and odd date forms ---------------------------------------------------

@FUZZ
@given(key=st.sampled_from(list(WARRANTY_CASE)), value=st.sampled_from(['"x"', "1", "null", "[]"]),
       top=st.booleans())
def test_a_duplicate_key_is_a_400_naming_it(client, key, value, top):
    inner = json.dumps(WARRANTY_CASE)[:-1] + f', "{key}": {value}}}'
    text = f'{{"case": {json.dumps(WARRANTY_CASE)}, "case": {{}}}}' if top else f'{{"case": {inner}}}'
    r = send(client, "/v1/decisions/warranty", text)
    assert r.status_code == 400 and names(r, f"'{'case' if top else key}' appears twice")


@FUZZ
@given(value=odd_dates, place=st.sampled_from(["as_of", "date"]))
def test_a_date_not_written_yyyy_mm_dd_is_refused(client, value, place):
    if place == "as_of":
        field, text = "as_of", json.dumps({"case": WARRANTY_CASE, "as_of": value})
    else:
        field, text = "case.purchase_date", json.dumps({"case": dict(WARRANTY_CASE, purchase_date=value)})
    r = send(client, "/v1/decisions/warranty", text)
    assert r.status_code == 422 and names(r, field), (value, r.get_json())


# --- item 11: chunked bodies around the limit ----------------------------------------------------

@FUZZ
@given(size=st.integers(LIMIT - 200, 3 * LIMIT), pieces=st.integers(1, 5))
def test_a_chunked_body_over_the_limit_is_a_413_and_within_it_is_read_whole(small_client, size, pieces):
    request = json.dumps({"case": WARRANTY_CASE, "as_of": "2026-11-25"}).encode()
    body = request + b" " * (size - len(request))

    step = max(1, len(body) // pieces)

    class Trickle(io.BytesIO):  # a server's stream: short reads
        def read(self, n=-1):
            return super().read(min(step, n) if n is not None and n >= 0 else step)

    started = time.perf_counter()
    r = small_client.post("/v1/decisions/warranty", input_stream=Trickle(body), content_type="application/json",
                    headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert time.perf_counter() - started < BOUND
    if size > LIMIT:
        assert r.status_code == 413 and r.mimetype == "application/problem+json"
    else:
        assert r.status_code == 200, r.get_json()


# --- item 16: hostile case files on the CLI ------------------------------------------------------

hostile_files = st.one_of(
    st.binary(min_size=1, max_size=200),
    huge_numbers.map(lambda n: (json.dumps(WARRANTY_CASE)[:-1] + f', "repairs_same_fault": {n}}}').encode()),
    huge_numbers.map(lambda n: (json.dumps(WARRANTY_CASE)[:-1] + f', "price": "{n}"}}').encode()),
    st.integers(33, 100_000).map(lambda d: b'{"product_category": ' + b"[" * d + b"]" * d + b"}"),
    lone_surrogates.map(lambda e: (json.dumps(WARRANTY_CASE)[:-1] + f', "product_category": "{e}"}}').encode()),
    odd_dates.map(lambda d: json.dumps(dict(WARRANTY_CASE, purchase_date=d)).encode()),
    out_of_range_dates.map(lambda d: json.dumps(dict(WARRANTY_CASE, purchase_date=d)).encode()),
)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(content=hostile_files, as_of=st.none() | out_of_range_datetimes)
def test_a_hostile_case_file_exits_0_or_2_with_a_message(tmp_path_factory, capsys, monkeypatch, books, content,
                                                         as_of):
    case = tmp_path_factory.mktemp("case") / "case.json"
    case.write_bytes(content)
    monkeypatch.setattr(RuleBook, "load", lambda *a, **k: books["python"])  # the rules loaded once: time the case alone
    started = time.perf_counter()
    code = cli.main(["eval", "warranty", str(case), "--as-of", as_of or "2026-11-25"])
    assert time.perf_counter() - started < BOUND
    err = capsys.readouterr().err
    assert code in (0, 2), err
    if code == 2:
        assert err.strip() and ":" in err.splitlines()[0]
    if as_of and code == 2 and err.startswith("as_of"):  # out of range, or an offset past ±14:00
        assert "between 1900-01-01 and 2199-12-31" in err or "expected a date-time like" in err, err

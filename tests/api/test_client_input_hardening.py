"""Hostile client input at the HTTP and CLI edges (issue 10, items 1, 7, 11, 13, 16, 17): every
value is bounded before it is converted, and each bad one is a 4xx problem+json (or exit 2)
naming the field, answered in milliseconds — never a 500, a traceback or a frozen worker."""
import json
import socket
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest

from aftersales import cli
from engine.types import MONEY, to_json

from tests.e2e import test_serve
from tests.conftest import ROOT
from tests.api.test_api import WARRANTY_CASE, make_app

AS_OF = "2026-11-25"
FAST = 1.0  # seconds: every refusal here takes a few milliseconds; a conversion of 1E+1500000 took a minute
SCRAP = json.loads((ROOT / "examples/scrap_pricing/waste_oil_below_floor.json").read_text())
RETURN = {"product_line": "national_sanbao", "product_category": "washing_machine", "purchase_date": "2026-11-01",
          "fault_cause": "manufacturing", "request": "return"}
RETURN_AS_OF = "2026-11-05"  # within the 7 days of a return


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("app")).test_client()


def post(client, path, text):
    started = time.perf_counter()
    r = client.post(path, data=text, content_type="application/json")
    elapsed = time.perf_counter() - started
    assert r.status_code < 500, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json" or r.status_code == 200
    assert elapsed < FAST, f"{elapsed:.2f} s"
    return r


def case_text(case: dict, as_of=AS_OF, **raw) -> str:
    """A decision request whose case has `raw` fields written as raw JSON text."""
    fields = json.dumps({k: v for k, v in case.items() if k not in raw})[1:-1]
    fields += "".join(f', "{k}": {v}' for k, v in raw.items())
    return f'{{"case": {{{fields}}}, "as_of": "{as_of}"}}'


# --- item 1: huge numbers -------------------------------------------------------------------------

@pytest.mark.parametrize("field, raw", [
    ("repairs_same_fault", "9" * 5000),          # int(): over Python's 4,300-digit limit → was a 500
    ("repairs_same_fault", "1E+1500000"),        # int(Decimal): a minute with the GIL held
    ("repairs_same_fault", "1e16"),
    ("price", "1E+1500000"),
    ("price", '"1E+1500000"'),
    ("price", '"' + "1" * 5000 + '"'),
    ("compensation_rate", "1E-999999"),          # would be written out as a million zeros
    ("compensation_rate", "0E+999999"),
])
def test_a_huge_number_is_a_422_naming_its_field_in_milliseconds(client, field, raw):
    r = post(client, "/v1/decisions/warranty", case_text(WARRANTY_CASE, **{field: raw}))
    assert r.status_code == 422 and f"case.{field}" in r.get_json()["errors"], r.get_json()


def test_the_largest_accepted_numbers_still_decide(client):
    r = post(client, "/v1/decisions/warranty",
             case_text(RETURN, RETURN_AS_OF, price='"999999999999999.99"', repairs_same_fault="999999999999999"))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["decision"]["refund"] == "999999999999999.99"


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=-1", "limit=" + "9" * 3000,
                                   "since=" + "9" * 3000, "until=1E%2B1500000"])
def test_an_out_of_range_query_number_is_a_400_saying_the_range(client, query):
    started = time.perf_counter()
    r = client.get(f"/v1/decisions?{query}")
    assert time.perf_counter() - started < FAST
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    name = query.split("=")[0]
    assert name in r.get_json()["detail"]
    if name == "limit":
        assert "1 to 1000" in r.get_json()["detail"]


# --- item 7: client input that gave a 500 ---------------------------------------------------------

def test_a_list_nested_1000_deep_is_a_400_saying_where(client):
    r = post(client, "/v1/decisions/warranty", case_text(WARRANTY_CASE, product_category="[" * 1000 + "]" * 1000))
    assert r.status_code == 400
    assert "nested deeper than" in r.get_json()["detail"] and "line 1 column" in r.get_json()["detail"]


def test_a_price_of_1e28_on_a_return_is_a_422(client):
    r = post(client, "/v1/decisions/warranty", case_text(RETURN, RETURN_AS_OF, price="1e28"))
    assert r.status_code == 422 and "case.price" in r.get_json()["errors"]


@pytest.mark.parametrize("raw, path", [
    ('"\\ud800"', "case.special_reason"),
    ('"ok \\udfff"', "case.special_reason"),
    ('"nul \\u0000"', "case.special_reason"),
])
def test_text_no_database_can_store_is_a_422_naming_the_field(client, raw, path):
    r = post(client, "/v1/decisions/scrap_pricing", case_text(SCRAP, special_reason=raw))
    assert r.status_code == 422 and path in r.get_json()["errors"], r.get_json()


def test_a_surrogate_pair_is_ordinary_text(client):
    r = post(client, "/v1/decisions/scrap_pricing", case_text(SCRAP, special_reason='"\\ud83d\\ude00 \\\\ud800"'))
    assert r.status_code == 200, r.get_json()


@pytest.mark.parametrize("as_of", ["9999-12-31T23:00:00-10:00", "0001-01-01T00:00:00+14:00", "1899-12-31",
                                   "2200-01-01T00:00:00+08:00", "2199-12-31T23:00:00-10:00"])
def test_an_as_of_out_of_range_is_a_422(client, as_of):
    r = post(client, "/v1/decisions/warranty", json.dumps({"case": WARRANTY_CASE, "as_of": as_of}))
    assert r.status_code == 422 and "1900-01-01 and 2199-12-31" in r.get_json()["errors"]["as_of"][0]


def test_the_edges_of_the_date_range_decide(client):
    for as_of in ("1900-01-01T00:00:00+08:00", "2199-12-31T23:59:59+08:00"):
        case = dict(WARRANTY_CASE, purchase_date=as_of[:10])
        r = post(client, "/v1/decisions/warranty", json.dumps({"case": case, "as_of": as_of}))
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["decision"]["warranty_ends_on"] > as_of[:10]


def test_an_sla_case_requested_in_year_1_is_a_422(client):
    case = {"kind": "repair", "requested_at": "0001-01-01T00:00:00+08:00"}
    r = post(client, "/v1/decisions/sla", json.dumps({"case": case, "as_of": AS_OF}))
    assert r.status_code == 422 and "case.requested_at" in r.get_json()["errors"]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-10:00", "0001-01-01T00:00:00+14:00"])
def test_out_of_range_since_and_until_are_a_400(client, name, value):
    r = client.get(f"/v1/decisions?{name}={quote(value)}")
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert r.get_json()["detail"].startswith(f"{name}: expected a date-time between")


def test_in_a_batch_each_bad_case_is_one_error_item(client):
    good = json.dumps(WARRANTY_CASE)
    items = [good, "null", "5", '"text"', "[]", json.dumps(dict(RETURN, price="1e28")),
             json.dumps(dict(WARRANTY_CASE, purchase_date="0001-01-01")), good]
    r = post(client, "/v1/decisions/warranty/batch", f'{{"cases": [{", ".join(items)}], "as_of": "{AS_OF}"}}')
    assert r.status_code == 200, r.get_json()
    results = r.get_json()["results"]
    assert "decision" in results[0] and "decision" in results[-1]
    for i in (1, 2, 3, 4):
        assert results[i]["error"]["status"] == 422
        assert list(results[i]["error"]["errors"]) == [f"cases[{i}]"], results[i]
    assert "case.price" in results[5]["error"]["errors"]
    assert "case.purchase_date" in results[6]["error"]["errors"]


def test_a_single_case_that_is_not_an_object_names_case(client):
    for raw in ("null", "[]", "7"):
        r = post(client, "/v1/decisions/warranty/batch", f'{{"cases": [{raw}]}}')
        assert list(r.get_json()["results"][0]["error"]["errors"]) == ["cases[0]"]
    r = post(client, "/v1/decisions/warranty", '{"case": []}')
    assert r.status_code == 422 and "case" in r.get_json()["errors"] and "case.case" not in r.get_json()["errors"]


# --- item 11: a chunked body over the limit -------------------------------------------------------

def chunked(client, body: bytes):
    import io
    return client.post("/v1/decisions/warranty", input_stream=io.BytesIO(body), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_a_413_and_within_it_is_decided(tmp_path):
    client = make_app(tmp_path, max_body_bytes=10_000).test_client()
    request = json.dumps({"case": WARRANTY_CASE, "as_of": AS_OF}).encode()
    r = chunked(client, request + b" " * 20_000)  # a whole request, then padding: cut at the limit, it was decided
    assert r.status_code == 413 and r.mimetype == "application/problem+json"
    r = chunked(client, request + b" " * (10_000 - len(request)))  # exactly the limit
    assert r.status_code == 200, r.get_json()
    assert len(client.get("/v1/decisions").get_json()["items"]) == 1


# --- item 13: input taken silently ----------------------------------------------------------------

@pytest.mark.parametrize("text, key", [
    ('{"case": %s, "case": {}}' % json.dumps(WARRANTY_CASE), "case"),
    ('{"case": {"product_line": "electronics", "purchase_date": "2026-03-10", "product_line": "general"}}',
     "product_line"),
])
def test_a_duplicate_key_is_a_400_naming_it(client, text, key):
    r = post(client, "/v1/decisions/warranty", text)
    assert r.status_code == 400 and f"'{key}' appears twice" in r.get_json()["detail"]


@pytest.mark.parametrize("field, value", [("purchase_date", "2026-W11-2"), ("purchase_date", "20260310"),
                                          ("purchase_date", "2026-03-1０")])
def test_a_date_not_written_yyyy_mm_dd_is_refused(client, field, value):
    r = post(client, "/v1/decisions/warranty", json.dumps({"case": dict(WARRANTY_CASE, **{field: value})}))
    assert r.status_code == 422 and f"case.{field}" in r.get_json()["errors"]


@pytest.mark.parametrize("as_of", ["2026-W11-2", "2026-W11-2T10:00:00+08:00", "20261125T100000"])
def test_an_as_of_not_written_yyyy_mm_dd_is_refused(client, as_of):
    r = post(client, "/v1/decisions/warranty", json.dumps({"case": WARRANTY_CASE, "as_of": as_of}))
    assert r.status_code == 422 and "as_of" in r.get_json()["errors"]


def test_negative_zero_money_is_written_0_00():
    assert to_json(Decimal("-0"), MONEY) == "0.00"
    assert to_json(Decimal("-0.004"), MONEY) == "0.00"


def test_a_return_at_price_minus_0_shows_no_negative_zero(client):
    r = post(client, "/v1/decisions/warranty", json.dumps({"case": dict(RETURN, price="-0"), "as_of": RETURN_AS_OF}))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["decision"]["refund"] == "0.00"
    assert '"-0' not in r.get_data(as_text=True)


def test_an_enum_value_with_surrounding_spaces_is_trimmed_and_an_unknown_one_lists_the_values(client):
    trimmed = post(client, "/v1/decisions/warranty",
                   json.dumps({"case": dict(WARRANTY_CASE, fault_cause=" manufacturing\t"), "as_of": AS_OF}))
    plain = post(client, "/v1/decisions/warranty", json.dumps({"case": WARRANTY_CASE, "as_of": AS_OF}))
    assert trimmed.status_code == 200 and trimmed.get_json()["decision"] == plain.get_json()["decision"]
    r = post(client, "/v1/decisions/warranty", json.dumps({"case": dict(WARRANTY_CASE, fault_cause="manu facturing")}))
    assert r.status_code == 422 and "manufacturing（制造质量）, misuse（使用、维护、保管不当）" in r.get_json()["errors"]["case.fault_cause"][0]


# --- item 16: the CLI -----------------------------------------------------------------------------

def run_cli(capsys, tmp_path, content: bytes, *args, ruleset="warranty"):
    case = tmp_path / "case.json"
    case.write_bytes(content)
    code = cli.main(["eval", ruleset, str(case), "--engine", "python", "--rules", str(ROOT / "rules"), *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("content, where", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
    ('{"product_line": "électronique"}'.encode("latin-1"), "not UTF-8"),
    (json.dumps(WARRANTY_CASE)[:-1].encode() + b', "repairs_same_fault": ' + b"9" * 5000 + b"}", "repairs_same_fault:"),
    (json.dumps(dict(RETURN, price=0))[:-2].encode() + b"1e30}", "price:"),
    (b'{"product_category": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "case.json:1:"),
    (json.dumps(dict(WARRANTY_CASE, product_category="\ud800"), ensure_ascii=True).encode(), "product_category:"),
    (b'{"a": 1, "a": 2}', "'a' appears twice"),
])
def test_a_hostile_case_file_exits_2_naming_the_field(capsys, tmp_path, content, where):
    code, err = run_cli(capsys, tmp_path, content, "--as-of", AS_OF)
    assert code == 2 and where in err, err


def test_an_overflowing_as_of_exits_2(capsys, tmp_path):
    code, err = run_cli(capsys, tmp_path, json.dumps(WARRANTY_CASE).encode(), "--as-of", "9999-12-31T23:00:00-10:00")
    assert code == 2 and err.startswith("as_of: expected a date-time between 1900-01-01 and 2199-12-31"), err


def test_a_long_string_input_is_refused_before_the_engine(capsys, tmp_path):
    case = dict(SCRAP, special_reason="很" * 10_001)
    code, err = run_cli(capsys, tmp_path, json.dumps(case).encode(), "--as-of", AS_OF, ruleset="scrap_pricing")
    assert code == 2 and "special_reason: is longer than 10,000 characters" in err, err
    code, _ = run_cli(capsys, tmp_path, json.dumps(dict(SCRAP, special_reason="很" * 10_000)).encode(),
                      "--as-of", AS_OF, ruleset="scrap_pricing")
    assert code == 0


def test_a_case_file_over_1_mib_is_refused_unread(capsys, tmp_path):
    code, err = run_cli(capsys, tmp_path, b'{"special_reason": "' + b"x" * (2 << 20) + b'"}', ruleset="scrap_pricing")
    assert code == 2 and "larger than 1,048,576 bytes" in err


def test_the_cli_prints_no_traceback_for_nesting_100k_deep(tmp_path):
    import subprocess
    case = tmp_path / "deep.json"
    case.write_text("[" * 100_000 + "]" * 100_000)
    p = subprocess.run([test_serve.AFTERSALES, "eval", "warranty", str(case), "--rules", str(ROOT / "rules"),
                        "--engine", "python"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "nested deeper than" in p.stderr, p.stderr


# --- items 11 and 17 on the real server (gunicorn) ------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    runtime = tmp / "run"
    runtime.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_RUNTIME_DIR", str(runtime))  # where gunicorn would put its control socket
        s = test_serve.Server(tmp, workers=1)
    s.runtime = runtime
    try:
        yield s
    finally:
        s.kill()


def raw_request(port: int, head: bytes, body_chunks=()) -> bytes:
    """Send a request by hand (chunked when body_chunks are given); the status line and headers back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            for chunk in body_chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if body_chunks:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading all of it
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


@pytest.mark.e2e
def test_a_chunked_body_over_1_mib_is_a_413_from_the_real_server(server):
    request = json.dumps({"case": WARRANTY_CASE, "as_of": AS_OF}).encode()
    head = (b"POST /v1/decisions/warranty HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % server.port)
    answer = raw_request(server.port, head, [request] + [b" " * 65536] * 24)  # 1.5 MiB: a whole request + padding
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"application/problem+json" in answer
    answer = raw_request(server.port, head, [request, b" " * 1000])
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


@pytest.mark.e2e
def test_a_long_uri_is_a_problem_json_414_and_gunicorn_answers_past_its_own_limit(server):
    head = b"GET /v1/decisions?ruleset=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
    answer = raw_request(server.port, head % (b"w" * 5000, server.port))
    assert answer.startswith(b"HTTP/1.1 414") and b"application/problem+json" in answer, answer[:300]
    answer = raw_request(server.port, head % (b"w" * 9000, server.port))
    assert answer.startswith(b"HTTP/1.1 414"), answer[:300]  # gunicorn's own page: documented in api/serve.py


@pytest.mark.e2e
def test_the_server_opens_no_shared_control_socket(server):
    assert not list(Path(server.runtime).rglob("*.ctl"))

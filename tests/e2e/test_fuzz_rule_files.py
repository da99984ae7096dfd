"""Rule-file fuzz (issue 10, items 2, 3 and 4): hostile files never crash the loader.

Generated classes: huge numbers, deep nesting, alias bombs, odd scalars and tags, binary and
non-UTF-8 bytes, truncated files, and random mutations of the shipped rules/*.yaml. Whatever the
file, `compile_ruleset` / `RuleBook` / the rules source either load it or refuse it with
RulesError problems located at file:line:column, each file within TIME_BOUND seconds and
growing the process's peak memory (max RSS) by less than MEMORY_BOUND. A refusal by the catch-all
("could not be loaded (…)") counts as a finding: it means a failure nobody planned for.
"""
import resource
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_rulesource import rule_source
from engine.calendar import WorkCalendar
from engine.loading.compiler import compile_ruleset
from engine.errors import RulesError
from engine.rulebook import read_calendar

from ..conftest import RULES

TIME_BOUND = 3.0  # seconds per file; the shipped files compile in under 0.1 s each
MEMORY_BOUND = 64 * 1024  # KiB of max RSS; an alias bomb used to take 810 MB
SHIPPED = {p.name: p.read_text(encoding="utf-8") for p in sorted(RULES.glob("*.yaml"))}
FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CALENDAR = WorkCalendar.package_only()


def check(folder: Path, name: str, data: bytes):
    """Load `data` as rules/<name>: loaded, or refused with located problems; bounded in time and memory."""
    path = folder / name
    path.write_bytes(data)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    try:
        if name == "calendar.yaml":
            read_calendar(path)
        else:
            compile_ruleset(path, CALENDAR)
    except RulesError as e:
        assert e.problems
        for p in e.problems:
            assert p.file == str(path) and p.line >= 1 and p.column >= 1 and p.message, p
            assert "could not be loaded (" not in p.message, f"an unplanned failure: {p}"
    elapsed = time.monotonic() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    assert elapsed < TIME_BOUND, f"{name}: {elapsed:.1f} s"
    assert grown < MEMORY_BOUND, f"{name}: peak memory grew {grown // 1024} MiB"


rule_file = st.sampled_from([n for n in SHIPPED if n != "calendar.yaml"])


def with_parameter(text: str, value: str) -> str:
    return text.replace("parameters:\n", f"parameters:\n  fuzzed: {value}\n", 1) if "parameters:\n" in text \
        else text + f"parameters:\n  fuzzed: {value}\n"


numbers = st.one_of(
    st.integers(31, 20_000).map(lambda n: "9" * n),
    st.integers(31, 5_000).map(lambda n: "1." + "3" * n),
    st.integers(31, 10**9).map(lambda e: f"1.5e+{e}"),
    st.integers(31, 10**9).map(lambda e: f"-2.0e-{e}"),
    st.integers(16, 2_000).map(lambda n: "0x" + "f" * n),
    st.integers(16, 2_000).map(lambda n: "0o" + "7" * n),
    st.integers(16, 500).map(lambda n: ":".join(["59"] * n)),
)


@FUZZ
@given(name=rule_file, number=numbers)
def test_huge_numbers(tmp_path_factory, name, number):
    check(tmp_path_factory.mktemp("f"), name, with_parameter(SHIPPED[name], number).encode())


nesting = st.tuples(st.sampled_from(["[", "{a: ", "- ", "{? "]), st.integers(65, 30_000))


@FUZZ
@given(name=rule_file, shape=nesting)
def test_deep_nesting(tmp_path_factory, name, shape):
    opening, depth = shape
    closing = {"[": "]", "{a: ": "}", "- ": "", "{? ": "}"}[opening]
    text = SHIPPED[name] + "description:\n  " + opening * depth + "x" + closing * depth + "\n"
    check(tmp_path_factory.mktemp("f"), name, text.encode())


@FUZZ
@given(name=rule_file, levels=st.integers(2, 14), width=st.integers(2, 12), mapping=st.booleans())
def test_alias_bombs(tmp_path_factory, name, levels, width, mapping):
    lines = ["b0: &b0 " + ("{k: v}" if mapping else "[x]")]
    for i in range(1, levels):
        items = [f"*b{i - 1}"] * width
        body = "{" + ", ".join(f"k{j}: {a}" for j, a in enumerate(items)) + "}" if mapping else "[" + ", ".join(items) + "]"
        lines.append(f"b{i}: &b{i} {body}")
    text = "description:\n" + "".join("  " + line + "\n" for line in lines)
    check(tmp_path_factory.mktemp("f"), name, (SHIPPED[name] + text).encode())


ODD = [
    "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]", "!!pairs [a: 1]", "!!python/object:os.system x",
    "!!python/name:os.system", "!custom 1", "!!int x", "!!float abc", "!!timestamp 2026-13-45", "!!timestamp x",
    "!!bool maybe", ".inf", "-.inf", ".nan", "~", "null", "2026-02-30", "2026-02-28T25:61:00", "0b" + "1" * 300,
    "1_000_000", "{? [a, b]: c}", "{? {a: b}: c}", "[a, [b, {c: d}]]", "[true, x]", "&a x", "*undefined",
    "<<: {a: 1}", "'\\x00'", '"\\ud800"', "| \n    text", "{1: 2, 1.5: 3, null: 4, true: 5}", "[]", "{}", "''",
    "yes", "on", "1:30", "!!str", "{rows: {a: {c: true}, b: {c: x}}}",
]


@pytest.mark.parametrize("value", ODD)
def test_odd_scalars_and_tags(tmp_path, value):
    """Every odd value in every place of a small rule file (exhaustive: 7 places each)."""
    for where in ("parameter", "version", "ruleset", "title", "inputs", "stages", "tables", "top"):
        text = SHIPPED["depreciation.yaml"]
        if where == "parameter":
            text = with_parameter(text, value)
        elif where in ("version", "ruleset", "title"):
            text = "\n".join(f"{where}: {value}" if line.startswith(f"{where}:") else line for line in text.split("\n"))
        elif where in ("inputs", "stages"):
            text = text.replace(f"{where}:\n", f"{where}: {value}\n{where}_was:\n", 1)
        elif where == "tables":
            text += f"tables:\n  fuzzed: {value}\n"
        else:
            text = f"{value}\n" + text
        check(tmp_path, "depreciation.yaml", text.encode())


@FUZZ
@given(name=st.sampled_from(sorted(SHIPPED)), data=st.binary(min_size=1, max_size=4096), prefix=st.booleans())
def test_binary_and_non_utf8_bytes(tmp_path_factory, name, data, prefix):
    raw = SHIPPED[name].encode()
    check(tmp_path_factory.mktemp("f"), name, (data + raw) if prefix else (raw[: len(raw) // 2] + data))


@FUZZ
@given(name=st.sampled_from(sorted(SHIPPED)), cut=st.floats(0, 1))
def test_truncated_files(tmp_path_factory, name, cut):
    raw = SHIPPED[name].encode()
    check(tmp_path_factory.mktemp("f"), name, raw[: int(len(raw) * cut)])


mutation = st.tuples(st.sampled_from(["delete", "insert", "replace", "swap_lines", "dup_line", "indent"]),
                     st.floats(0, 1), st.integers(1, 40), st.sampled_from(list(":-[]{}&*!|>'\"#\t \n0a_")))


@settings(FUZZ, max_examples=80)
@given(name=st.sampled_from(sorted(SHIPPED)), edits=st.lists(mutation, min_size=1, max_size=5))
def test_random_mutations_of_the_shipped_rules(tmp_path_factory, name, edits):
    text = SHIPPED[name]
    for kind, where, n, ch in edits:
        i = int(len(text) * where)
        lines = text.split("\n")
        j = min(int(len(lines) * where), len(lines) - 1)
        if kind == "delete":
            text = text[:i] + text[i + n:]
        elif kind == "insert":
            text = text[:i] + ch * n + text[i:]
        elif kind == "replace":
            text = text[:i] + ch + text[i + 1:]
        elif kind == "swap_lines" and j + 1 < len(lines):
            lines[j], lines[j + 1] = lines[j + 1], lines[j]
            text = "\n".join(lines)
        elif kind == "dup_line":
            text = "\n".join(lines[:j + 1] + lines[j:])
        elif kind == "indent":
            lines[j] = " " * n + lines[j]
            text = "\n".join(lines)
    check(tmp_path_factory.mktemp("f"), name, text.encode())


def test_the_rules_source_keeps_serving_through_hostile_edits(tmp_path):
    """One edit of each class in turn through RuleSource.reload: never an exception, and sla always serves
    (the edit when it loads, else the last good version), each reload within TIME_BOUND."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    source = rule_source(rules, tmp_path / "var")
    sla = SHIPPED["sla.yaml"]
    edits = [with_parameter(sla, "9" * 5001).encode(), (sla + "description: " + "[" * 20_000 + "\n").encode(),
             (sla + "description:\n  a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
                 f"  {c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))).encode(),
             b"\xff\xfe" + sla.encode(), sla.encode()[:5000], with_parameter(sla, "!!binary aGVsbG8=").encode(),
             sla.replace('version: "2026.1"', 'version: "2026.3"').encode()]
    for data in edits:
        (rules / "sla.yaml").write_bytes(data)
        started = time.monotonic()
        report = source.reload()
        assert time.monotonic() - started < TIME_BOUND
        assert set(report.values()) <= {"reloaded", "rejected"}
        assert source.book.get("sla")
    assert source.book.get("sla").ruleset.version == "2026.3" and "sla" not in source.book.errors

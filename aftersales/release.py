"""`aftersales release …`: a client of the service's /v1/releases API (api/releases.py).

The service keeps the releases, enforces the roles and maker-checker, and gathers the evidence; this
command only reads folders, sends requests and prints the answers, so it never writes the database.
A problem+json answer prints "status title: detail" and each error item; exit 1, 2 for invalid
input (400, 413, 422), 3 for invalid rule files (422 invalid-files).
"""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import click

from engine.errors import RulesError
from engine.types import CHINA
from releases.snapshot import MAX_SNAPSHOT_BYTES, check_files, export, read_folder

from .common import EXIT_CASE, EXIT_FAILED, EXIT_RULES, fail_rules

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 60
"""Seconds one request may take: creating a release compiles every rule set, a diff reads both
snapshots; both take a few seconds at most, so a minute means the service is stuck."""
MAX_RESPONSE_BYTES = 2 * MAX_SNAPSHOT_BYTES + 1024 * 1024
"""An answer read at most: the largest is a release's files, a snapshot as JSON text (escaping can
double it); more is not an answer of this API."""
POLL_S = 0.5
"""Seconds between two looks at a submitted release's evidence (the service writes its progress at
most this often)."""
WAIT_LIMIT_S = 1800
"""How long `submit --wait` waits for the evidence: the impact is bounded to 50,000 logged decisions
(releases.evidence), a minute or two; half an hour without an end means it was lost."""
MESSAGE_COLUMN = 60
"""Characters of a message's first line in the list."""
MAX_SHOWN_ITEMS = 20
"""Failures, findings or problems printed by `show`; the rest are counted (the page lists them all)."""
INPUT_STATUSES = (400, 413, 415, 422)


class ApiError(Exception):
    """An answer or a failure to get one, already worded; `code` is the exit code."""

    def __init__(self, lines: list[str], code: int = EXIT_FAILED):
        super().__init__(lines[0])
        self.lines, self.code = lines, code


class Client:
    """The release API of one service, called with one token."""

    def __init__(self, url: str, token: str | None):
        self.url, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None,
             text: bool = False):
        """The answer's JSON (or text); ApiError for a problem answer or an unreachable service."""
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": "text/plain" if text else "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
                raw = _read(r)
        except urllib.error.HTTPError as e:
            with e:
                raise _problem(e.code, e.reason, _read(e)) from None
        except urllib.error.URLError as e:
            raise ApiError([_unreachable(self.url, e.reason)]) from None
        except OSError as e:  # reset, or a timeout while reading the answer
            raise ApiError([_unreachable(self.url, e)]) from None
        if text:
            return raw.decode("utf-8", "replace")
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError([f"{self.url}{path}: the answer is not JSON: {raw[:200]!r}"]) from None


def _read(r) -> bytes:
    raw = r.read(MAX_RESPONSE_BYTES + 1)
    if len(raw) > MAX_RESPONSE_BYTES:
        raise ApiError([f"the answer is larger than {MAX_RESPONSE_BYTES:,} bytes: not one of the release API"])
    return raw


def _unreachable(url: str, reason) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return (f"cannot reach the service at {url}: connection refused "
                "(is `aftersales serve` running? --url or AFTERSALES_URL says where)")
    if isinstance(reason, TimeoutError):
        return f"{url}: no answer within {TIMEOUT_S} s"
    return f"cannot reach the service at {url}: {getattr(reason, 'strerror', None) or reason}"


def _problem(status: int, reason: str, raw: bytes) -> ApiError:
    """A problem+json answer as lines: "status title: detail", then each error item."""
    try:
        p = json.loads(raw)
    except ValueError:
        p = None
    if not isinstance(p, dict):
        snippet = raw[:200].decode("utf-8", "replace").strip()
        return ApiError([f"{status} {reason}" + (f": {snippet}" if snippet else "")],
                        EXIT_CASE if status in INPUT_STATUSES else EXIT_FAILED)
    lines = [f"{status} {p.get('title') or reason}" + (f": {p['detail']}" if p.get("detail") else "")]
    errors = p.get("errors")
    if isinstance(errors, dict):
        for name, messages in errors.items():
            for m in messages if isinstance(messages, list) else [messages]:
                lines.append(f"  {name}: {m}")
    kind = str(p.get("type", "")).rsplit("/", 1)[-1]
    code = EXIT_RULES if kind == "invalid-files" else EXIT_CASE if status in INPUT_STATUSES else EXIT_FAILED
    return ApiError(lines, code)


class _Release(click.Group):
    """The commands in the order they are added; an ApiError is printed and becomes the exit code."""

    def list_commands(self, ctx):
        return list(self.commands)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ApiError as e:
            for line in e.lines:
                click.echo(line, err=True)
            return e.code


@click.group("release", cls=_Release, help="create, review, activate and roll back rule releases (via the service)")
@click.option("--url", envvar="AFTERSALES_URL", default=DEFAULT_URL, show_default=True,
              help="the service (env AFTERSALES_URL)")
@click.option("--token", envvar="AFTERSALES_TOKEN", help="your API token (env AFTERSALES_TOKEN)")
@click.pass_context
def release(ctx, url, token):
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).netloc:
        raise click.BadParameter(f"{url!r}: expected http://host:port", param_hint="--url")
    ctx.obj = Client(url, token)


def _client() -> Client:
    return click.get_current_context().obj


@release.command(help="make a draft release of the rules in DIR")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("-m", "--message", required=True, help="what the change is and why")
def create(folder, message) -> int:
    try:
        snap = read_folder(folder)
    except RulesError as e:
        return fail_rules(e.problems)
    rel = _client().call("POST", "/v1/releases", {"message": message, "files": snap.files})
    click.echo(f"{rel['id']}  {rel['state']}  {rel['digest'][:19]}  ({len(snap.files)} files)")
    return 0


@release.command("list", help="the releases, newest first; * marks the active one")
def list_() -> int:
    answer = _client().call("GET", "/v1/releases")
    rows = [("", "id", "state", "author", "created", "message")]
    for r in answer["releases"]:
        state = r["state"] + (f" {_when(r['scheduled_at'])}" if r.get("scheduled_at") else "")
        first = (r.get("message") or "").splitlines()[0] if r.get("message") else ""
        if len(first) > MESSAGE_COLUMN:
            first = first[:MESSAGE_COLUMN - 1] + "…"
        rows.append(("*" if r["id"] == answer.get("active") else "", r["id"], state, r["author"],
                     _when(r["created_at"]), first))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    if len(rows) == 1:
        click.echo("no releases yet")
    return 0


@release.command(help="a release: its state, rule sets, evidence and record")
@click.argument("rid", metavar="ID")
def show(rid) -> int:
    rel = _client().call("GET", f"/v1/releases/{_quote(rid)}")
    click.echo(f"release {rel['id']}  {_state(rel)}")
    click.echo(f"digest   {rel['digest']}")
    click.echo(f"author   {rel['author']}, {_when(rel['created_at'])}  (origin {rel['origin']}, "
               f"parent {rel.get('parent') or 'none'})")
    lines = (rel.get("message") or "").splitlines() or [""]
    click.echo(f"message  {lines[0]}")
    for line in lines[1:]:
        click.echo(f"         {line}")
    click.echo("rule sets")
    for name, rs in sorted((rel.get("rulesets") or {}).items()):
        click.echo(f"  {name:<20} {rs.get('version', '')!s:<12} {str(rs.get('digest', ''))[:19]}")
    for p in _limited(rel.get("load_problems") or []):
        click.echo(f"  load problem: {_problem_line(p)}")
    click.echo(f"evidence {rel['evidence_state']}")
    for line in _evidence_lines(rel):
        click.echo(f"  {line}")
    click.echo("events")
    for e in rel.get("events") or []:
        lines = (e.get("reason") or "").splitlines()  # a created event's reason is the whole message
        reason = f": {lines[0]}" + (" …" if len(lines) > 1 else "") if lines else ""
        click.echo(f"  {_when(e['at'])}  {e['actor']:<12} {e['action']}{reason}")
    return 0


@release.command(help="what changed from release A to release B, rule by rule")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
def diff(a, b) -> int:
    click.echo(_client().call("GET", f"/v1/releases/{_quote(b)}/diff", query={"against": a, "format": "text"},
                              text=True).rstrip("\n"))
    return 0


@release.command(help="submit a draft for approval; the service gathers its evidence")
@click.argument("rid", metavar="ID")
@click.option("--wait", is_flag=True, help="wait for the evidence, showing its progress, and print it")
def submit(rid, wait) -> int:
    client = _client()
    rel = client.call("POST", f"/v1/releases/{_quote(rid)}/submit")
    if not wait:
        click.echo(f"{rel['id']}  {rel['state']}  evidence {rel['evidence_state']} "
                   f"(`aftersales release show {rel['id']}` shows it)")
        return 0
    rel = _wait_for_evidence(client, rel)
    click.echo(f"{rel['id']}  {rel['state']}  evidence {rel['evidence_state']}")
    for line in _evidence_lines(rel):
        click.echo(f"  {line}")
    evidence = rel.get("evidence") or {}
    if rel["evidence_state"] != "done" or not evidence.get("ok_to_approve"):
        click.echo(f"{rel['id']} cannot be approved as it is", err=True)
        return EXIT_FAILED
    if evidence.get("needs_reason"):
        click.echo(f"{rel['id']} has open check findings: approving it needs --reason")
    return 0


def _wait_for_evidence(client: Client, rel: dict) -> dict:
    """Poll the release until its evidence is done or failed, a tqdm bar per step on standard error."""
    from tqdm import tqdm  # only this command draws a bar
    deadline = time.monotonic() + WAIT_LIMIT_S
    shown = None
    with tqdm(file=sys.stderr, leave=False, disable=None, unit=" items") as bar:
        while rel["evidence_state"] not in ("done", "failed"):
            if time.monotonic() > deadline:
                late = (f"the evidence of {rel['id']} is still {rel['evidence_state']} after {WAIT_LIMIT_S} s; "
                        f"`aftersales release show {rel['id']}` shows it later")
                raise ApiError([late])
            progress = rel.get("evidence_progress") or {}
            step, total = progress.get("step"), progress.get("total")
            if (step, total) != shown:  # a new step (load, check, tests, impact), or its size now known
                shown = step, total
                bar.reset(total=total if isinstance(total, int) else None)
                bar.set_description(str(step or "queued"))
            if isinstance(progress.get("done"), int):
                bar.n = progress["done"]
                bar.refresh()
            time.sleep(POLL_S)
            rel = client.call("GET", f"/v1/releases/{_quote(rel['id'])}")
    return rel


@release.command(help="approve a submitted release made by someone else")
@click.argument("rid", metavar="ID")
@click.option("--reason", help="why (required when check has open findings)")
def approve(rid, reason) -> int:
    return _act(f"/v1/releases/{_quote(rid)}/approve", {"reason": reason})


@release.command(help="reject a submitted or approved release")
@click.argument("rid", metavar="ID")
@click.option("--reason", required=True, help="why")
def reject(rid, reason) -> int:
    return _act(f"/v1/releases/{_quote(rid)}/reject", {"reason": reason})


@release.command(help="activate an approved release (now, or --at)")
@click.argument("rid", metavar="ID")
@click.option("--at", "at", metavar="DATETIME",
              help="when it takes effect, e.g. 2026-12-01T00:00 (China time when no offset; default: now)")
@click.option("--reason", help="why")
def activate(rid, at, reason) -> int:
    return _act(f"/v1/releases/{_quote(rid)}/activate", {"at": at, "reason": reason})


@release.command(help="activate an earlier active release again")
@click.option("--to", "to", metavar="ID", help="the release to go back to (default: the one active before)")
@click.option("--reason", required=True, help="why")
def rollback(to, reason) -> int:
    return _act("/v1/releases/rollback", {"to": to, "reason": reason})


def _act(path: str, body: dict) -> int:
    """POST a workflow step (options not given are left out) and print the release's new state."""
    rel = _client().call("POST", path, {k: v for k, v in body.items() if v is not None})
    click.echo(f"{rel['id']}  {_state(rel)}")
    last = (rel.get("activations") or [None])[-1]
    if path.endswith("/rollback") and last and last.get("emergency"):
        click.echo(f"emergency rollback by {last['actor']}, without a second person: recorded as such")
    return 0


@release.command("export", help="write a release's files under DIR")
@click.argument("rid", metavar="ID")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
def export_(rid, folder) -> int:
    answer = _client().call("GET", f"/v1/releases/{_quote(rid)}/files")
    try:
        snap = check_files(answer.get("files"))  # names from the network: nothing outside DIR is written
    except RulesError as e:
        raise ApiError([f"the files of {rid} are not a release's:"] + [f"  {p}" for p in e.problems]) from None
    if snap.digest != answer.get("digest"):
        raise ApiError([f"the files of {rid} do not match its digest {answer.get('digest')}: nothing written"])
    export(snap, folder)
    click.echo(f"wrote {len(snap.files)} files of {answer['id']} ({snap.digest[:19]}) to {folder}")
    try:
        extra = sorted(set(read_folder(folder).files) - set(snap.files))
    except RulesError:
        extra = []
    if extra:
        shown = ", ".join(extra[:MAX_SHOWN_ITEMS]) + (f" and {len(extra) - MAX_SHOWN_ITEMS} more"
                                                      if len(extra) > MAX_SHOWN_ITEMS else "")
        click.echo(f"note: {folder} also holds files not in {answer['id']}: {shown}", err=True)
    return 0


# -- printing -------------------------------------------------------------------------------

def _quote(rid: str) -> str:
    return urllib.parse.quote(rid, safe="")


def _when(iso: str | None) -> str:
    """An instant from the service (ISO, UTC) in China time, to the minute."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _state(rel: dict) -> str:
    return rel["state"] + (f" from {_when(rel['scheduled_at'])} (China time)" if rel.get("scheduled_at") else "")


def _limited(items: list) -> list:
    return items[:MAX_SHOWN_ITEMS] + ([f"… and {len(items) - MAX_SHOWN_ITEMS} more"]
                                      if len(items) > MAX_SHOWN_ITEMS else [])


def _problem_line(p) -> str:
    if isinstance(p, dict):
        return f"{p.get('file')}:{p.get('line')}:{p.get('column')}: {p.get('message')}"
    return str(p)


def _evidence_lines(rel: dict) -> list[str]:
    """The evidence in a few lines: load, tests, check findings, impact (decisions and money)."""
    progress = rel.get("evidence_progress") or {}
    if rel["evidence_state"] == "failed":
        return [f"could not be gathered: {progress.get('error', 'unknown error')} (submit again to retry)"]
    evidence = rel.get("evidence")
    if rel["evidence_state"] != "done" or not evidence:
        return [f"{progress.get('step')}: {progress.get('done')} of {progress.get('total') or '?'}"] if progress else []
    out = []
    load = evidence["load"]
    out.append("load: ok" if load["ok"] else f"load: {len(load['problems'])} problems")
    out += [f"  {_problem_line(p)}" for p in _limited(load["problems"])]
    tests = evidence["tests"]
    cov = tests.get("coverage") or {}
    out.append(f"tests: {tests['passed']} passed, {tests['failed']} failed; rules fired "
               f"{cov.get('percent_covered', '?')}% (required {cov.get('required', '?')}%)")
    out += [f"  {f['where']} {f['name']}: {f['message']}" if isinstance(f, dict) else f"  {f}"
            for f in _limited(tests.get("failures") or [])]
    counts = evidence["check"]["counts"]
    out.append(f"check: {counts['findings']} findings ({counts['errors']} errors, {counts['warnings']} warnings, "
               f"{counts['accepted']} accepted)")
    out += [f"  {f['file']}:{f.get('line')}: {f['level']}: {f['message']}" if isinstance(f, dict) else f"  {f}"
            for f in _limited([f for f in evidence["check"]["findings"] if not f["accepted"]])]
    impact = evidence["impact"]
    if "skipped" in impact:
        out.append(f"impact: skipped ({impact['skipped']})")
    else:
        out.append(f"impact: {impact['cases']:,} logged decisions compared, {impact['changed']:,} changed"
                   + (f" ({impact['note']})" if impact.get("note") else ""))
        for name, r in impact["rulesets"].items():
            for output, m in r["money"].items():
                out.append(f"  money moved, {name}.{output}: net {m['total']} (up {m['up']} in {m['cases_up']:,}, "
                           f"down {m['down']} in {m['cases_down']:,})")
    verdict = ("can be approved" if evidence["ok_to_approve"] else "cannot be approved (load or tests fail)")
    out.append(verdict + ("; approving needs a written reason (open check findings)"
                          if evidence["ok_to_approve"] and evidence["needs_reason"] else ""))
    return out

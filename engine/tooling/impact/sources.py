"""Where `aftersales impact` gets what it compares: the base rules (a folder, or a git revision
extracted into a temporary folder) and the cases (a JSON Lines file, or decision-log entries)."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from decimal import Decimal
from pathlib import Path


class ImpactError(Exception):
    """The comparison cannot run (bad revision, unreadable cases, rules that do not load)."""



class BaseRules:
    """A folder of rules: given, or extracted from a git revision into a temporary folder."""

    def __init__(self, spec: str, rules_dir: Path, option: str = "--base"):
        self.spec = spec
        self._tmp = None
        if Path(spec).is_dir():
            self.folder, self.label = Path(spec), f"folder {spec}"
            return
        rules_dir = Path(rules_dir).resolve()
        top = _git(rules_dir, "rev-parse", "--show-toplevel")
        if top is None:
            raise ImpactError(f"{option} {spec}: not a folder, and {rules_dir} is not in a git repository")
        top = Path(top.strip())
        commit = _git(top, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
        if commit is None:
            raise ImpactError(f"{option} {spec}: neither a folder nor a git revision of {top}")
        rel = rules_dir.relative_to(top).as_posix()
        archive = _git(top, "archive", "--format=tar", commit.strip(), "--", rel, binary=True)
        if archive is None:
            raise ImpactError(f"{option} {spec}: revision {commit.strip()[:12]} has no folder {rel}")
        self._tmp = tempfile.mkdtemp(prefix="aftersales-base-")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(self._tmp, filter="data")
        self.folder = Path(self._tmp) / rel
        self.label = f"{spec} ({commit.strip()[:12]}:{rel})"

    def close(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _git(cwd: Path, *args, binary=False):
    try:
        p = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False)
    except OSError:
        return None
    if p.returncode != 0:
        return None
    return p.stdout if binary else p.stdout.decode()


def read_jsonl(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [line for line in fh]
    except OSError as e:
        raise ImpactError(f"{path}: cannot read: {e.strerror}") from None


def log_lines(rows) -> list[str]:
    """Entries of the decision log (dicts with decision_id, ruleset, as_of, case) as JSON Lines."""
    return [json.dumps({"decision_id": row["decision_id"], "ruleset": row["ruleset"],
                        "as_of": row["as_of"], "case": row["case"]}, ensure_ascii=False, default=_json_default)
            for row in rows]


def _json_default(o):
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError(type(o))

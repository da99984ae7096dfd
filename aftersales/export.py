"""`aftersales export --format parquet DIR`: the decision log as a Parquet dataset (pyarrow), for
analysis outside the service.

Partitioned hive-style by rule set and the China date of ``created_at`` (the dates of --since,
--until and the audit pages): ``DIR/ruleset=warranty/date=2026-11-25/part-00000.parquet``, the
rule set URI-encoded as pyarrow decodes it. ``ruleset`` and ``date`` live in the path, as hive
partition columns do (``pyarrow.parquet.read_table(DIR)``, DuckDB and Spark read them from it);
each file holds the columns of SCHEMA. The rows are the log's as stored: personal data masked (the
log masks it when it records), case and decision as the JSON text the API returns (Decimals as
strings, so money is never a float).

Streaming, in bounded memory whatever the size of the log: the log is read a page at a time in
``created_at`` order; the rows of a partition wait in its buffer and are written as one row group
when ROW_GROUP_ROWS gather, or, when MAX_BUFFERED_ROWS wait in all, the largest buffer is written.
A partition's file is closed when the date moves on (the log is in time order: that date is done)
or, with MAX_OPEN_WRITERS open, the least recently used one is closed and the partition's later
rows go to its next file. The export is written into a hidden folder beside DIR and renamed to DIR
at the end: an interrupted export leaves no half-written DIR.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import Counter, OrderedDict
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import click

from engine.types import CHINA

from .common import EXIT_CASE, EXIT_FAILED

PAGE_ROWS = 500
"""Entries read from the log per query (keyset pages, the log's own default): a page's query costs
little beside its rows, and a page of parsed entries stays some tens of MB (a response with
`explain: full` parses into tens of kB of Python objects)."""
ROW_GROUP_ROWS = 10_000
"""Rows of one partition written as one row group: readers skip and decompress by row group, and
tens of thousands of rows make groups of a few MB compressed."""
MAX_BUFFERED_ROWS = 20_000
"""Rows waiting in all partition buffers together: the export's memory bound (about 1-2 kB a row
held as Python text); past it the largest buffer is written out."""
MAX_OPEN_WRITERS = 16
"""Partition files open at once (within one date: one a rule set). Each holds a file handle and its
writer's state; past this the least recently used one is closed."""
COMPRESSION = "zstd"   # the JSON columns compress about tenfold


def _schema():
    import pyarrow as pa
    return pa.schema([
        ("decision_id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("version", pa.string()),
        ("digest", pa.string()),
        ("release", pa.string()),          # null: decided before releases
        ("as_of", pa.string()),            # ISO date-time with its offset, as returned
        ("case", pa.string()),             # JSON text, masked
        ("decision", pa.string()),         # JSON text of the response's `decision`, masked
        ("fired", pa.list_(pa.string())),  # rule ids
        ("caller", pa.string()),
        ("duration_ms", pa.float64()),     # a timing, not money
    ])


@click.command("export", help="write the decision log as Parquet, partitioned by rule set and date")
@click.option("--format", "format_", type=click.Choice(("parquet",)), default="parquet", show_default=True,
              help="the file format")
@click.option("--since", help="decisions made since this date or date-time (a date: midnight China time)")
@click.option("--until", help="decisions made before this date or date-time")
@click.option("--overwrite", is_flag=True, help="replace DIR when it holds an earlier export")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
def export(format_, since, until, overwrite, directory) -> int:
    """Reads the log from AFTERSALES_DATABASE_URL, else SQLite in AFTERSALES_VAR, as replay does."""
    from tqdm import tqdm

    from api.decision_log import DecisionLog, DecisionLogError
    from db import Database
    from engine.tooling.impact import ImpactError

    # --since and --until read as `aftersales impact --log` reads them
    from .impact import _moment
    try:
        since_t, until_t = _moment(since, "--since"), _moment(until, "--until")
    except ImpactError as e:
        click.echo(f"export: {e}", err=True)
        return EXIT_CASE
    if since_t is not None and until_t is not None and since_t >= until_t:
        click.echo(f"export: --since {since} is not before --until {until}: no decision can be in between",
                   err=True)
        return EXIT_CASE
    target = directory.resolve()
    if problem := _target_problem(target, overwrite):
        click.echo(f"export: {directory}: {problem}", err=True)
        return EXIT_CASE
    url, var = os.environ.get("AFTERSALES_DATABASE_URL") or None, os.environ.get("AFTERSALES_VAR", "var")
    try:
        db = Database.from_url(url, var)
    except ValueError as e:
        click.echo(f"export: AFTERSALES_DATABASE_URL: {e}", err=True)
        return EXIT_CASE
    if db.kind == "sqlite" and not db.sqlite_path.exists():   # opening it would make an empty log
        click.echo(f"export: no decision log at {db.sqlite_path} (set AFTERSALES_VAR or "
                   "AFTERSALES_DATABASE_URL)", err=True)
        return EXIT_FAILED
    work = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.export-", dir=target.parent))
        with DecisionLog.open(url, var) as dlog, \
                tqdm(file=sys.stderr, leave=False, disable=None, unit=" decisions", desc="export") as bar, \
                _PartitionWriter(work) as out:
            for entry in dlog.iter_entries(since=since_t, until=until_t, batch=PAGE_ROWS):
                out.add(entry)
                bar.update()
        if target.exists():
            shutil.rmtree(target)   # empty, or an earlier export (checked above) with --overwrite
        work.rename(target)
    except DecisionLogError as e:
        click.echo(f"export: decision log: {e}", err=True)
        return EXIT_FAILED
    except OSError as e:
        click.echo(f"export: cannot write {e.filename or directory}: {e.strerror or e}", err=True)
        return EXIT_FAILED
    finally:
        if work is not None and work.exists():
            shutil.rmtree(work, ignore_errors=True)
    click.echo(f"exported {out.rows:,} decisions to {directory}: {len(out.partitions):,} partitions, "
               f"{out.files:,} files")
    return 0


def _target_problem(target: Path, overwrite: bool) -> str | None:
    """Why DIR cannot take the export, or None. --overwrite replaces only what an export writes."""
    if not target.exists():
        return None
    if not target.is_dir():
        return "is not a directory"
    found = sorted(p.name for p in target.iterdir())
    if not found:
        return None
    if not overwrite:
        return "is not empty: give --overwrite to replace an earlier export"
    foreign = [n for n in found if not (n.startswith("ruleset=") and (target / n).is_dir())]
    if foreign:
        return (f"holds {', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}, which no export "
                "writes: not replacing it")
    return None


class _Partition:
    """One rule set and date: its rows waiting as columns, and its open file (None before the first
    row group is written)."""

    def __init__(self, key: tuple[str, str], folder: Path, names):
        self.key = key
        self.folder = folder
        self.columns = {n: [] for n in names}
        self.writer = None

    def __len__(self) -> int:
        return len(self.columns["decision_id"])


class _PartitionWriter:
    """Rows in, Parquet files out, partition by partition; see the module docstring."""

    def __init__(self, root: Path):
        from api.jsonout import dumps
        self.dumps = dumps   # the API's JSON: Decimals as strings, never floats
        self.root = root
        self.schema = _schema()
        self.open: OrderedDict[tuple[str, str], _Partition] = OrderedDict()   # least recently used first
        self.day: str | None = None
        self.buffered = 0
        self.rows = 0
        self.partitions: set[tuple[str, str]] = set()
        self.next_file: Counter = Counter()   # the number of each partition's next file
        self.files = 0

    def __enter__(self) -> _PartitionWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close_all()
        else:   # the export is abandoned (its folder is removed): only release the files
            for part in self.open.values():
                if part.writer is not None:
                    part.writer.close()

    def add(self, entry: dict) -> None:
        created = datetime.fromisoformat(entry["created_at"])   # fixed-width UTC ISO from either store
        day = created.astimezone(CHINA).date().isoformat()
        if day != self.day:   # entries come in time order: every open partition is done
            self.close_all()
            self.day = day
        key = (entry["ruleset"], day)
        part = self.open.get(key)
        if part is None:
            part = self._open(key)
        else:
            self.open.move_to_end(key)
        c = part.columns
        c["decision_id"].append(entry["decision_id"])
        c["created_at"].append(created)
        c["version"].append(entry["version"])
        c["digest"].append(entry["digest"])
        c["release"].append(entry["release"])
        c["as_of"].append(entry["as_of"])
        c["case"].append(self.dumps(entry["case"]))
        c["decision"].append(self.dumps(entry["response"].get("decision")))
        c["fired"].append(entry["fired"])
        c["caller"].append(entry["caller"])
        c["duration_ms"].append(entry["duration_ms"])
        self.rows += 1
        self.buffered += 1
        if len(part) >= ROW_GROUP_ROWS:
            self._flush(part)
        elif self.buffered >= MAX_BUFFERED_ROWS:
            self._flush(max(self.open.values(), key=len))

    def _open(self, key: tuple[str, str]) -> _Partition:
        if len(self.open) >= MAX_OPEN_WRITERS:
            self._close(self.open.popitem(last=False)[1])
        ruleset, day = key
        self.partitions.add(key)
        part = _Partition(key, self.root / f"ruleset={quote(ruleset, safe='')}" / f"date={day}",
                          self.schema.names)
        self.open[key] = part
        return part

    def _flush(self, part: _Partition) -> None:
        """Write the partition's waiting rows as one row group (opening its next file if need be)."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        if not len(part):
            return
        if part.writer is None:
            part.folder.mkdir(parents=True, exist_ok=True)
            n = self.next_file[part.key]
            self.next_file[part.key] += 1
            part.writer = pq.ParquetWriter(part.folder / f"part-{n:05d}.parquet", self.schema,
                                           compression=COMPRESSION)
            self.files += 1
        self.buffered -= len(part)
        part.writer.write_table(pa.Table.from_pydict(part.columns, schema=self.schema),
                                row_group_size=len(part))
        part.columns = {n: [] for n in self.schema.names}

    def _close(self, part: _Partition) -> None:
        self._flush(part)
        if part.writer is not None:
            part.writer.close()

    def close_all(self) -> None:
        while self.open:
            self._close(self.open.popitem(last=False)[1])

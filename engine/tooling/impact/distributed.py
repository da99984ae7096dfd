"""The impact comparison on a Ray cluster (`aftersales impact --engine ray`), with Ray Data.

The driver numbers the lines (the same line numbers as the local engine) and puts them into the
object store in blocks of `BLOCK` rows, an Arrow table (index, line) each, so it holds one block at a
time of what it reads. `map_batches` runs `_Decider`, a callable class: each actor compiles both rule
versions once, from the rule files' bytes shipped with it (not paths: an actor may be on another
node), and turns each Arrow batch (a block) into one partial `Aggregate`: the local engine's chunks
(lines 1–500, 501–1000, …; comparison.Comparer) merged in line order, pickled into a one-row table.
So the cases are decided and aggregated on the cluster; what comes back is one partial per block
(kilobytes for 2,000 cases), and the driver merges them in line order as they stream in
(`iter_batches`), holding only those that arrive ahead of an earlier one. Why there and not in a
last task on the cluster: that task (after a `repartition(1)`) waits for the CPUs the actors hold
until Ray Data retires them (10 s and more measured on 3,000 cases), and merging a partial takes
microseconds against the seconds of deciding its block. Line order matters: Aggregate.merge keeps the
first unreadable lines and the lowest-index examples, as the local engine merging its chunks in order
does, so the report is the local one number for number. Ray is imported only here, and only when this runs.
"""
from __future__ import annotations

import pickle
import socket
import tempfile
from collections.abc import Iterable
from itertools import count, islice
from pathlib import Path

from engine.evaluation.case import read_as_of
from engine.loading.yamlsource import read_bytes
from engine.rulebook import RuleBook, rule_files

from .comparison import EXAMPLES, Aggregate, Comparer
from .parallel import CHUNK
from .sources import ImpactError

BLOCK = 4 * CHUNK
"""Lines per block of the dataset and per batch of an actor (2,000, ~1 MB of JSON for warranty cases):
a whole number of the local engine's chunks. A block goes to one actor, so 10,000 cases make five
blocks for the actors to share; ten million make 5,000 blocks and as many partial Aggregates."""


CONNECT_SECONDS = 10
"""How long to wait for the head node's port to answer: ray.init retries an address where nothing
listens for minutes, so a wrong --address is caught first by a plain TCP connection."""


def _reachable(address: str) -> None:
    """A host:port address must accept a connection (ray:// and "auto" are left to ray.init)."""
    if "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
            return
    except ValueError:
        raise ImpactError(f"--address {address}: expected host:port, e.g. 10.0.0.5:6379") from None
    except OSError as e:
        raise ImpactError(f"--address {address}: no Ray head node answers there ({e.strerror or e})") from None


def rule_texts(folder) -> dict[str, bytes]:
    """The files a rule book loads (engine.rulebook.rule_files: bounded in number, each read with
    the loader's size bound), by name, to be shipped to the actors."""
    return {path.name: read_bytes(path) for path in rule_files(Path(folder))}


class _Decider:
    """A Ray Data actor: both rule versions compiled once, then one partial Aggregate a batch."""

    def __init__(self, base: dict, current: dict, ruleset, as_of, examples):
        books = []
        with tempfile.TemporaryDirectory(prefix="aftersales-ray-") as tmp:
            for side, files in (("base", base), ("current", current)):
                folder = Path(tmp) / side
                folder.mkdir()
                for name, data in files.items():
                    (folder / name).write_bytes(data)
                books.append(RuleBook.load(folder, backend="python"))
        self.comparer = Comparer(books[0], books[1], ruleset, as_of, examples)

    def __call__(self, batch):
        import pyarrow as pa
        index, lines = batch.column("index").to_pylist(), batch.column("line").to_pylist()
        start = index[0]
        if index != list(range(start, start + len(index))) or (start - 1) % CHUNK:
            raise RuntimeError(f"impact: the batch from line {start} is not a block of consecutive lines")
        agg = Aggregate(n_examples=self.comparer.n_examples)
        for i in range(0, len(lines), CHUNK):  # the local engine's chunks, merged as it merges them
            agg.merge(self.comparer.run(start + i, lines[i:i + CHUNK]))
        return pa.table({"start": [start], "aggregate": [pickle.dumps(agg)]})


def _merge_in_order(batches, examples: int) -> Aggregate:
    """The partial Aggregates of the blocks, merged in line order as they arrive."""
    total, ahead, next_start = Aggregate(n_examples=examples), {}, 1
    for batch in batches:
        for start, blob in zip(batch.column("start").to_pylist(), batch.column("aggregate").to_pylist()):
            ahead[start] = blob
        while next_start in ahead:
            total.merge(pickle.loads(ahead.pop(next_start)))
            next_start += BLOCK
    if ahead:
        raise RuntimeError(f"impact: the blocks from line {min(ahead)} came back without the block at line {next_start}")
    return total


def _blocks(ray, lines: Iterable[str]) -> list:
    """The lines, numbered from 1, as Arrow blocks in the object store (references)."""
    import pyarrow as pa
    refs, it, numbers = [], iter(lines), count(1)
    while block := list(islice(it, BLOCK)):
        refs.append(ray.put(pa.table({"index": [next(numbers) for _ in block], "line": block})))
    return refs


def compare(base_dir, current_dir, lines: Iterable[str], ruleset=None, as_of=None, examples: int = EXAMPLES,
            address: str | None = None, progress: bool = False) -> tuple[Aggregate, dict]:
    """parallel.compare on Ray: the same Aggregate and load problems. Connects to the cluster at
    `address` (ray.init's: host:port of a head node, ray://host:port for Ray Client, "auto"), or
    starts a local one without; a Ray already initialised in this process is used as it is."""
    try:
        import ray
    except ImportError:
        raise ImpactError("--engine ray needs Ray: pip install 'ray[data]' (make test installs it)") from None
    base = RuleBook.load(base_dir, backend="python")
    current = RuleBook.load(current_dir, backend="python")
    problems = {"base": [str(p) for p in base.all_problems()], "current": [str(p) for p in current.all_problems()]}
    default_as_of = as_of or read_as_of(None).isoformat()
    if address:
        _reachable(address)
    started = not ray.is_initialized()
    if started:
        try:
            # log_to_driver off: the workers' output would mix with the report on standard output
            ray.init(address=address, logging_level="WARNING", log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ImpactError(f"--address {address}: cannot connect to a Ray cluster: {e}") from None
    try:
        ray.data.DataContext.get_current().enable_progress_bars = progress
        refs = _blocks(ray, lines)
        if not refs:
            return Aggregate(), problems
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        partials = (ray.data.from_arrow_refs(refs)
                    .map_batches(_Decider, batch_size=BLOCK, batch_format="pyarrow",
                                 compute=ray.data.ActorPoolStrategy(size=actors),
                                 fn_constructor_args=(rule_texts(base_dir), rule_texts(current_dir), ruleset,
                                                      default_as_of, examples)))
        return _merge_in_order(partials.iter_batches(batch_size=None, batch_format="pyarrow"), examples), problems
    finally:
        if started:
            ray.shutdown()

"""Prometheus metrics. Under gunicorn (several processes) the multiprocess mode is used
when PROMETHEUS_MULTIPROC_DIR is set (`aftersales serve` sets it).

A metrics failure never fails or kills a request. In multiprocess mode prometheus-client keeps
each worker's values in files it maps into memory (mmap) and sizes with ftruncate, which on a
full disk still succeeds (the file is sparse); the first store into a page with no disk block
behind it then raises SIGBUS and the worker dies with the requests on it. So here:

* `_ReservedMmapedDict` reserves the blocks of a file (posix_fallocate) before prometheus-client
  touches them, when the file is opened and before each time it doubles: a full or read-only
  disk becomes an OSError instead of a SIGBUS (written against prometheus-client 0.26.0, pinned
  in pyproject.toml: it relies on MmapedDict's _init_value/_capacity/_used/_f);
* `_GuardedValue` wraps every metric value: an update that fails is not lost — it is kept in the
  worker's memory and written once the folder takes writes again (retried at most every
  FLUSH_INTERVAL_S, on the next update) — and is logged, at most once per FAILURE_LOG_INTERVAL_S
  per process;
* `status()` tells /readyz whether the metrics folder can take writes now.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import mmap_dict, multiprocess, values

log = logging.getLogger(__name__)

# Readiness wants this much free space in the metrics folder: each worker keeps two files
# (counters, histograms) of 64 KiB that double when full, so 1 MiB lets every worker of a
# typical server grow each file a few times.
METRICS_MIN_FREE_BYTES = 1 << 20
FAILURE_LOG_INTERVAL_S = 60.0   # at most one log line a minute per process while writes fail


class _ReservedMmapedDict(mmap_dict.MmapedDict):
    """prometheus-client's mmap'ed file, with its disk blocks reserved before they are written."""

    def __init__(self, filename, read_mode=False):
        if not read_mode:
            with open(filename, "a+b") as f:
                size = os.fstat(f.fileno()).st_size
                try:
                    os.posix_fallocate(f.fileno(), 0, max(size, mmap_dict._INITIAL_MMAP_SIZE))
                except OSError:
                    if size == 0:   # an empty file would break the exposition's reading of the folder
                        os.unlink(filename)
                    raise
        super().__init__(filename, read_mode)

    def _init_value(self, key):
        n = len(key.encode("utf-8"))
        entry = 4 + n + (8 - (n + 4) % 8) + 16   # length, key padded to 8 bytes, value, timestamp
        capacity = self._capacity
        while self._used + entry > capacity:   # the doubling MmapedDict._init_value does next
            capacity *= 2
        if capacity > self._capacity:
            os.posix_fallocate(self._f.fileno(), 0, capacity)
        super()._init_value(key)


FLUSH_INTERVAL_S = 1.0   # how often, at most, updates kept back are retried while writes fail

_failures = {"count": 0, "logged_at": -FAILURE_LOG_INTERVAL_S, "last": ""}
_dirty: set = set()   # guarded values with an update not yet in their file
_flushed_at = [-FLUSH_INTERVAL_S]
_lock = threading.Lock()   # guards the above and each value's state (prometheus-client's lock is inside)


def _failed(e: Exception) -> None:
    now = time.monotonic()
    _failures["count"] += 1
    _failures["last"] = f"{type(e).__name__}: {e}"
    if now - _failures["logged_at"] >= FAILURE_LOG_INTERVAL_S:
        log.warning("metrics: %d update(s) could not be written to %s (%s); requests go on, the "
                    "values are kept in memory and written when the folder takes writes again",
                    _failures["count"], os.environ.get("PROMETHEUS_MULTIPROC_DIR"), _failures["last"])
        _failures["logged_at"], _failures["count"] = now, 0


def _guarded(inner_class):
    """A value class like `inner_class` (prometheus-client's per-process value) that never raises:
    an update it cannot write is kept and written later (see the module docstring)."""

    class _GuardedValue:
        _multiprocess = True

        def __init__(self, *args, **kwargs):
            self._args, self._kwargs = args, kwargs
            self._inner = None
            self._pending = 0.0   # increments made while the value could not be opened
            with _lock:
                self._write()

        def _write(self) -> bool:
            """Open the value if needed and write the pending amount; on failure keep it."""
            try:
                if self._inner is None:
                    self._inner = inner_class(*self._args, **self._kwargs)
                self._inner.inc(self._pending)   # inc(0) rewrites the value the inner one holds
                self._pending = 0.0
                _dirty.discard(self)
                return True
            except Exception as e:  # noqa: BLE001 - a metric must not fail the request
                if self._inner is not None:
                    self._pending = 0.0   # the inner value has added it already: written next time
                _dirty.add(self)
                _failed(e)
                return False

        def inc(self, amount):
            with _lock:
                self._pending += amount
                now = time.monotonic()
                if self._write() and _dirty and now - _flushed_at[0] >= FLUSH_INTERVAL_S:
                    _flushed_at[0] = now
                    for value in list(_dirty):   # the folder took a write: write what was kept back
                        value._write()

        def set(self, value, timestamp=None):
            with _lock:
                try:
                    if self._inner is None:
                        self._inner = inner_class(*self._args, **self._kwargs)
                    self._inner.set(value, timestamp)
                except Exception as e:  # noqa: BLE001
                    _failed(e)

        def set_exemplar(self, exemplar):
            return None   # not kept in multiprocess mode (prometheus-client's own value ignores it too)

        def get(self):
            with _lock:
                return self._pending + (self._inner.get() if self._inner is not None else 0.0)

        def get_exemplar(self):
            return None

    return _GuardedValue


# Installed before the metrics below are created; prometheus-client looks both names up in its
# `values` module when it opens a file and when it creates a labelled child.
if getattr(values.ValueClass, "_multiprocess", False):
    values.MmapedDict = _ReservedMmapedDict
    values.ValueClass = _guarded(values.ValueClass)

DECISIONS = Counter("aftersales_decisions_total", "Decisions returned, by rule set and outcome",
                    ["ruleset", "outcome"])
LATENCY = Histogram("aftersales_decision_seconds", "Time to decide and log one decision request",
                    ["ruleset"], buckets=(.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
RELOAD_FAILURES = Counter("aftersales_reload_failures_total", "Rule-set edits refused at load", ["ruleset"])


def status() -> tuple[bool, str]:
    """(ok, why not) for /readyz: in multiprocess mode, whether the metrics folder is writable
    and has METRICS_MIN_FREE_BYTES free. In-process metrics need no disk."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return True, ""
    try:
        if not os.access(folder, os.W_OK):
            return False, "the metrics folder is not writable"
        st = os.statvfs(folder)
    except OSError as e:
        return False, f"the metrics folder cannot be read: {e.strerror}"
    free = st.f_bavail * st.f_frsize
    if free < METRICS_MIN_FREE_BYTES:
        return False, f"the metrics folder has {free} bytes free, less than {METRICS_MIN_FREE_BYTES}"
    return True, ""


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

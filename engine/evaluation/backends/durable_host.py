"""The one place that touches durable-rules. Its sharp edges, each owned here:

- Not thread-safe: concurrent calls into the native engine have crashed the process,
  and `Host` starts timer threads that call into it in the background. We use a
  host without those threads and serialise every native call behind one lock
  (process-wide: the native engine's state is global, so per-host locks would not do).
- A ruleset can be neither replaced nor deleted once registered: every rule-set
  version gets a fresh `RuleHost` with uniquely named rulesets.
- At most 1,024 live sessions per ruleset: one session id per evaluation, deleted
  in `finally` whatever happens.
- Facts, not events: an event is consumed by the first rule that matches it.
- `MessageNotHandledException` means "no rule matched", not an error — but a fact no
  rule matched still opens a session, and deleting that session crashes the process
  (seen with durable-rules 2.0.28: double free in `delete_state`). So every ruleset
  gets a sentinel rule that matches every fact we assert: the assert is always
  handled, and its session can always be deleted.
- A rule whose condition is an `$or` fires once per alternative that matches: we
  report each rule once.
- Its Python action machinery (closures, state write-back, JSON both ways per
  fired rule) costs more than the matching itself; we only need the names of the
  rules that fired, so we drive the native calls directly: assert the fact, then
  walk the agenda with `start_action_for_state` / `complete_and_start_action`.
- A lower `pri` fires first; we do not rely on firing order (the evaluator resolves
  outputs by the model's priorities), so no `pri` is set.
"""
from __future__ import annotations

import itertools
import json
import threading

import durable_rules_engine as _native
from durable import engine as _durable

_NATIVE_LOCK = threading.Lock()
_SENTINEL, _SENTINEL_KEY = "__every_fact", "__asserted"
_names = itertools.count(1)
# One encoder for every fact: json.dumps(..., ensure_ascii=False) builds a new
# JSONEncoder per call, which cost as much as the native assert (bench/RESULTS.md).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_sessions = itertools.count(1)


class _QuietHost(_durable.Host):
    """A durable-rules host without its background dispatch/timer threads (we use no timers)."""

    def _run(self):  # noqa: D401 - overrides the thread start-up
        pass


def _ignore(_closure):
    pass


class RuleHost:
    """Owns a durable-rules host for one rule-set version.

    `add_ruleset(rules)` registers `{rule_name: condition_json}`; `fire(handle, fact)`
    asserts one fact in a fresh session and returns the names of the rules that fired.
    """

    def __init__(self, label: str = "rules"):
        self._host = _QuietHost()
        self._label = "".join(ch if ch.isalnum() else "_" for ch in label)
        self._handles: dict[str, int] = {}
        self.live_sessions = 0

    def add_ruleset(self, rules: dict[str, dict]) -> str:
        """Register a ruleset of `{rule_name: {"all": [...]}}`; returns its handle name."""
        name = f"{self._label}_{next(_names)}"
        if _SENTINEL in rules:
            raise ValueError(f"{_SENTINEL} is a reserved rule name")
        definition = {_SENTINEL: {"all": [{"m": {_SENTINEL_KEY: True}}], "run": _ignore}}
        definition.update({rule_name: dict(spec, run=_ignore) for rule_name, spec in rules.items()})
        with _NATIVE_LOCK:
            self._host.register_rulesets({name: definition})
            self._handles[name] = self._host.get_ruleset(name)._handle
        return name

    def fire(self, ruleset_name: str, fact: dict) -> list[str]:
        handle = self._handles[ruleset_name]
        sid = str(next(_sessions))
        message = _encode({**fact, "sid": sid, _SENTINEL_KEY: True})
        fired: list[str] = []
        with _NATIVE_LOCK:
            self.live_sessions += 1
            try:
                state = _native.assert_fact(handle, message)[1]
                agenda = _native.start_action_for_state(handle, state)
                action = agenda[1] if agenda else None
                while action:
                    fired.append(action[2:action.index('"', 2)])  # {"<rule name>": …}; our names need no escaping
                    action = _native.complete_and_start_action(handle, state)
            finally:
                _native.delete_state(handle, sid)
                self.live_sessions -= 1
        return [name for name in dict.fromkeys(fired) if name != _SENTINEL]

"""Load YAML keeping the file position of every mapping key and string.

Rule files are edited by hand, so every error must point at a line. PyYAML throws
positions away once it builds Python objects; this loader keeps them:
mappings become `Located` dicts (with the position of each key) and strings become
`LocStr`. YAML 1.1 pitfalls are closed: numbers with a fraction become exact
`Decimal`s (never floats), and only `true`/`false` are booleans (`no`, `on`, `yes`
stay strings, so a province or enum value is never silently turned into a bool).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import yaml

from .errors import Problem, RulesError


class LocStr(str):
    """A string that knows where it was written (1-based line and column)."""

    line: int = 0
    column: int = 0
    quoted: bool = False


class Located(dict):
    """A mapping with the position of itself and of each key."""

    line: int = 0
    column: int = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_pos: dict = {}

    def pos(self, key=None) -> tuple[int, int]:
        return self.key_pos.get(key, (self.line, self.column))


class LocList(list):
    line: int = 0
    column: int = 0


class _Loader(yaml.SafeLoader):
    pass


# Only true/false are booleans (YAML 1.2 behaviour).
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _construct_str(loader, node):
    s = LocStr(loader.construct_scalar(node))
    s.line, s.column = node.start_mark.line + 1, node.start_mark.column + 1
    s.quoted = node.style in ("'", '"')
    return s


def _construct_decimal(loader, node):
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf / .nan: keep as text so the compiler reports it
        return _construct_str(loader, node)


def _construct_timestamp(loader, node):
    """A date YAML cannot build (2026-13-01) stays text, so the compiler reports it at its line."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return _construct_str(loader, node)


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    m = Located()
    m.line, m.column = node.start_mark.line + 1, node.start_mark.column + 1
    yield m
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in m:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        m[key] = loader.construct_object(value_node, deep=True)
        m.key_pos[key] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)


def _construct_seq(loader, node):
    s = LocList()
    s.line, s.column = node.start_mark.line + 1, node.start_mark.column + 1
    yield s
    s.extend(loader.construct_object(child, deep=True) for child in node.value)


_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(text: str, filename: str):
    """Parse YAML text; a syntax error becomes a RulesError at its line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RulesError([Problem(filename, line, col, f"YAML syntax: {e.problem or e}")]) from None
    except yaml.YAMLError as e:
        raise RulesError([Problem(filename, 1, 1, f"YAML syntax: {e}")]) from None


def position(node, key=None) -> tuple[int, int]:
    """Best-known (line, column) of a node or of one key of a mapping."""
    if isinstance(node, Located):
        return node.pos(key)
    return (getattr(node, "line", 0) or 1, getattr(node, "column", 0) or 1)

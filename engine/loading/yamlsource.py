"""Load YAML keeping the file position of every mapping key and string.

Rule files are edited by hand, so every error must point at a line. PyYAML throws
positions away once it builds Python objects; this loader keeps them:
mappings become `Located` dicts (with the position of each key) and strings become
`LocStr`. YAML 1.1 pitfalls are closed: numbers with a fraction become exact
`Decimal`s (never floats), and only `true`/`false` are booleans (`no`, `on`, `yes`
stay strings, so a province or enum value is never silently turned into a bool).

A rule file is input from a person, so everything is bounded before use (size, nesting,
alias expansion, digits of numbers) and refused with its line, never a crash or a hang.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import yaml

from engine.errors import Problem, RulesError

# Bounds on a rule file, checked before the work they limit. The shipped files are far below
# each (largest 60 KB, nesting 10 levels, no aliases, numbers of at most 9 digits).
MAX_FILE_BYTES = 1024 * 1024
"""A hand-written policy file; the loader's time and memory grow with it (about 1 s per MiB)."""
MAX_DEPTH = 64
"""Nesting levels of YAML collections: composing and compiling recurse once per level, so the
limit must sit well below Python's recursion limit to fail the same way in every worker."""
MAX_ALIAS_NODES = 10_000
"""Nodes that aliases (*name) may repeat in all: nested anchors double at each level, so an
8 KB file could otherwise stand for billions of nodes (an "alias bomb")."""
MAX_NUMBER_DIGITS = 30
"""Digits of a number, and the size of its decimal exponent: money and policy figures need far
fewer, and converting a 5,000-digit integer costs seconds (Python refuses past 4,300)."""


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
    """SafeLoader that bounds nesting depth and alias expansion while composing."""

    def compose_document(self):
        self.depth, self.alias_nodes = 0, 0
        return super().compose_document()

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = self.anchors.get(event.anchor)
            if node is not None:  # an undefined alias is reported by PyYAML
                size = getattr(node, "expanded", None)
                if size is None:
                    raise _error(f"alias *{event.anchor} is inside its own anchor", event.start_mark)
                self.alias_nodes += size
                if self.alias_nodes > MAX_ALIAS_NODES:
                    raise _error(f"aliases repeat more than {MAX_ALIAS_NODES} nodes in all "
                                 f"(at *{event.anchor}); write the values out", event.start_mark)
                if self.depth + node.height > MAX_DEPTH:  # an alias nests its anchor's levels here
                    raise _error(f"nested more than {MAX_DEPTH} levels deep (through *{event.anchor})",
                                 event.start_mark)
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        node = super().compose_node(parent, index)
        self.depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = ()
        node.expanded = 1 + sum(child.expanded for child in children)
        node.height = 1 + max((child.height for child in children), default=0)  # levels, aliases included
        return node


class _Exceeded(yaml.MarkedYAMLError):
    """A bound of this module exceeded at a position of the file."""


def _error(message: str, mark) -> _Exceeded:
    return _Exceeded(None, None, message, mark)


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


def _number_text(loader, node) -> str:
    """The scalar of a number, refused at its line when longer than any real figure."""
    text = loader.construct_scalar(node)
    if sum(ch.isalnum() for ch in text) > MAX_NUMBER_DIGITS:  # digits, and the letters of 0x / 1e
        raise _error(f"a number of more than {MAX_NUMBER_DIGITS} digits", node.start_mark)
    return text


def _construct_int(loader, node):
    _number_text(loader, node)
    try:
        return yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:  # `!!int x`
        raise _error(f"{node.value!r} is not a whole number", node.start_mark) from None


def _construct_bool(loader, node):
    value = loader.construct_scalar(node)
    if value.lower() not in ("true", "false"):  # `!!bool maybe`
        raise _error(f"{value!r} is not true or false", node.start_mark)
    return value.lower() == "true"


def _construct_decimal(loader, node):
    text = _number_text(loader, node).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:  # .inf / .nan: keep as text so the compiler reports it
        return _construct_str(loader, node)
    if value and abs(value.adjusted()) > MAX_NUMBER_DIGITS:
        raise _error(f"a number outside 1e-{MAX_NUMBER_DIGITS}..1e{MAX_NUMBER_DIGITS}", node.start_mark)
    return value


def _refuse_tag(loader, node):
    raise _error(f"the tag {node.tag} is not used in rule files; write plain text, numbers, lists "
                 "and mappings", node.start_mark)


def _construct_timestamp(loader, node):
    """A date YAML cannot build (2026-13-01) stays text, so the compiler reports it at its line."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, AttributeError):  # AttributeError: `!!timestamp x` matches no date form
        return _construct_str(loader, node)


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    m = Located()
    m.line, m.column = node.start_mark.line + 1, node.start_mark.column + 1
    yield m
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (list, dict)):
            raise _error("a key must be text, a number or a date, not a list or mapping", key_node.start_mark)
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
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
for _tag in ("binary", "omap", "pairs", "set"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def read_rule_file(path) -> str:
    """The text of a rule file, refused with a located problem when too large, unreadable or not UTF-8."""
    return decode(read_bytes(path), str(path))


def read_bytes(path) -> bytes:
    """The bytes of a rule file, at most MAX_FILE_BYTES (checked before reading)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise RulesError([Problem(str(path), 1, 1, f"cannot read the file: {e.strerror or e}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise RulesError([Problem(str(path), 1, 1, f"the file is larger than {MAX_FILE_BYTES} bytes")])
    return data


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text of a rule file; a bad byte is reported at its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[:e.start].decode("utf-8")
        line, col = _line_col(before, len(before))
        raise RulesError([Problem(filename, line, col, f"not UTF-8 text (byte 0x{data[e.start]:02x})")]) from None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def load_yaml(text: str, filename: str):
    """Parse YAML text; a syntax error or an exceeded bound becomes a RulesError at its line."""
    if len(text) > MAX_FILE_BYTES:
        raise RulesError([Problem(filename, 1, 1, f"the file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = "" if isinstance(e, _Exceeded) else "YAML syntax: "
        raise RulesError([Problem(filename, line, col, f"{what}{e.problem or e}")]) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (control characters)
        line, col = _line_col(text, e.position)
        raise RulesError([Problem(filename, line, col, f"YAML syntax: character {e.character!r} is not allowed")]) from None
    except yaml.YAMLError as e:
        raise RulesError([Problem(filename, 1, 1, f"YAML syntax: {e}")]) from None


def position(node, key=None) -> tuple[int, int]:
    """Best-known (line, column) of a node or of one key of a mapping."""
    line, column = node.pos(key) if isinstance(node, Located) else \
        (getattr(node, "line", 0), getattr(node, "column", 0))
    return line or 1, column or 1  # a node the compiler made up (a missing section) is at the top

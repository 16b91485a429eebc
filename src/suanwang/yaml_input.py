"""The one YAML loader for files from outside (network, deployment, climate, tariff files).

Safe (no Python objects) and bounded, so that no file can hang or crash the process:

- size: at most `MAX_BYTES` (4 MiB); the text rule of `suanwang.text_input` (UTF-8, BOM and
  CRLF accepted) applies first;
- depth: at most `MAX_DEPTH` (64) nested mappings or lists, counting through aliases;
- aliases: the document, with every alias expanded, has at most `MAX_NODES` (200,000) nodes,
  so an alias bomb ("billion laughs") is refused after one linear pass; an alias inside the
  node it names (a recursive document) is refused;
- a key given twice in one mapping is refused, naming both lines (YAML would keep the last).

Scalars are read as a user writes them (YAML 1.2 core schema, not PyYAML's YAML 1.1):

- numbers: `12`, `-3`, `012` (decimal 12, never octal), `1_000` (underscores group digits),
  `0x1F`, `0o17`, `1.5`, `1e15`, `2.5E-3`, `.5`, `.inf`, `.nan` (readers refuse the last two
  where a finite number is needed); `1:30` is text (YAML 1.1 read it as 90);
- booleans: `true`/`false` only (any case); `yes`, `no`, `on`, `off` are text;
- null: `null`, `~` or nothing; dates (`2024-06-01`) as in YAML 1.1.

Every refusal is an `InputError` naming the file, `line L[, column C]` and the key or problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver, Resolver
from yaml.scanner import Scanner

from suanwang.errors import InputError
from suanwang.text_input import read_input_text

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000


class YamlRefusal(Exception):
    """A limit or rule of this loader was broken at `line` (1-based)."""

    def __init__(self, line: int | None, what: str, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.what = what
        self.problem = problem


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _CoreResolver(BaseResolver):
    """YAML 1.2 core-schema scalars (see the module docstring), dates as in YAML 1.1."""


_INT = re.compile(r"^[-+]?(?:[0-9][0-9_]*|0x[0-9a-fA-F][0-9a-fA-F_]*|0o[0-7][0-7_]*)$")
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?
                    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X)
_CoreResolver.add_implicit_resolver("tag:yaml.org,2002:bool",
                                    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_CoreResolver.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_CoreResolver.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_CoreResolver.add_implicit_resolver("tag:yaml.org,2002:null",
                                    re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
for _first, _resolvers in Resolver.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"):
            _CoreResolver.add_implicit_resolver(_tag, _regexp, [_first])


class _BoundedComposer(Composer):
    """Nesting limited to MAX_DEPTH while the node tree is built."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlRefusal(mark.line + 1, "(document)",
                                  f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


class _StrictConstructor(SafeConstructor):
    """Safe constructor refusing duplicate keys, with core-schema numbers."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if isinstance(key_node, ScalarNode):
                key = self.construct_object(key_node)
                if key in seen:
                    raise YamlRefusal(_line(key_node), f"key {key}",
                                      f"given twice in one mapping: on line {seen[key]} and "
                                      f"on line {_line(key_node)}; give it once")
                seen[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if len(digits) > 400:
            raise YamlRefusal(_line(node), "(number)", f"{len(digits)} digits; too large")
        return sign * int(digits, 10)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        text = str(self.construct_scalar(node)).replace("_", "").lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)


_StrictConstructor.add_constructor("tag:yaml.org,2002:int", _StrictConstructor.construct_yaml_int)
_StrictConstructor.add_constructor("tag:yaml.org,2002:float",
                                   _StrictConstructor.construct_yaml_float)


class _Loader(Reader, Scanner, Parser, _BoundedComposer, _StrictConstructor, _CoreResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        _StrictConstructor.__init__(self)
        _CoreResolver.__init__(self)


def _check_expansion(root: Node) -> None:
    """Refuse a node graph that, aliases expanded, exceeds MAX_NODES or MAX_DEPTH, or loops.

    One iterative post-order pass over the distinct nodes, memoising each node's expanded size
    and depth, so a bomb is measured in the time of its text, not of its expansion.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > MAX_NODES:
                raise YamlRefusal(_line(node), "(aliases)",
                                  f"the document expands to more than {MAX_NODES:,} nodes "
                                  "(an alias bomb?); write the values out or use fewer aliases")
            if depth[key] > MAX_DEPTH:
                raise YamlRefusal(_line(node), "(aliases)",
                                  f"nested deeper than {MAX_DEPTH} levels once aliases are "
                                  "expanded")
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlRefusal(_line(node), "(aliases)",
                              "an alias refers to a node that contains it (a recursive "
                              "document)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


_BRACKET = re.compile(r"[\[\]{}]")


def _check_flow_depth(text: str) -> None:
    """Refuse flow brackets (`[[[...`) nested past MAX_DEPTH before the parser sees them: PyYAML
    scans a flow collection to its end before composing it, in time growing with its depth."""
    depth = 0
    for match in _BRACKET.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, match.start()) + 1
            raise YamlRefusal(line, "(document)", f"brackets nested deeper than {MAX_DEPTH} "
                                                  "levels")


def _lines(root: Node) -> dict[str, int]:
    """The line of every field path (`sites[0].pue.value`, as the readers name fields)."""
    out: dict[str, int] = {}
    stack: list[tuple[str, Node]] = [("", root)]
    while stack:
        path, node = stack.pop()
        if path and path not in out:
            out[path] = _line(node)
        if isinstance(node, SequenceNode):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(node.value))
        elif isinstance(node, MappingNode):
            for key_node, value in node.value:
                if isinstance(key_node, ScalarNode):
                    key = f"{path}.{key_node.value}" if path else str(key_node.value)
                    out.setdefault(key, _line(key_node))
                    stack.append((key, value))
    return out


_LAST_PART = re.compile(r"(\.[^.\[]*|\[\d+\])$")  # `.key` or `[3]` at the end of a path


@dataclass(frozen=True)
class Located:
    """A parsed document and the line of each field path, to name lines in later refusals."""

    doc: Any
    lines: dict[str, int]

    def at_line(self, exc: InputError) -> InputError:
        """`exc` with `line N, ` before its field when the field (or a parent) has a line."""
        field = exc.field
        while field:
            if field in self.lines:
                return InputError(exc.source, exc.field, exc.value, exc.problem,
                                  line=self.lines[field])
            parent = _LAST_PART.sub("", field)
            field = parent if parent != field else ""
        return exc


def _key_form(key: str) -> str:
    return "".join(ch for ch in key.lower() if ch.isalnum())


def all_keys(doc: Any) -> set[str]:
    """Every mapping key (text) anywhere in `doc`."""
    out: set[str] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out.update(k for k in node if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def refuse_misspelt_keys(located: Located, known: set[str], source: str) -> None:
    """Refuse a key written as a known key differently (`PUE`, `green-share`): readers pass
    over keys they do not use, so a misspelt optional key would silently not count."""
    by_form = {_key_form(k): k for k in known}
    for path, line in located.lines.items():
        key = path.rsplit(".", 1)[-1]
        if key.endswith("]"):
            continue
        meant = by_form.get(_key_form(key))
        if meant is not None and meant != key:
            raise InputError(source, path, key, f"did you mean {meant}? keys are exact (lower "
                                                "case, with _); this one would be ignored",
                             line=line)


def parse_yaml(text: str, source: str) -> Any:
    """The YAML document in `text` by the rules above; `InputError` naming `source` if refused."""
    return parse_yaml_located(text, source).doc


def parse_yaml_located(text: str, source: str) -> Located:
    """`parse_yaml`, with the line of every field path."""
    loader = _Loader(text)
    try:
        _check_flow_depth(text)
        node = loader.get_single_node()
        if node is None:
            return Located(None, {})
        _check_expansion(node)
        return Located(loader.construct_document(node), _lines(node))
    except YamlRefusal as exc:
        where = "" if exc.line is None else f"line {exc.line}, "
        raise InputError.file(source, f"{where}{exc.what}: {exc.problem}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = "?" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        if isinstance(exc, ConstructorError) and "tag" in (exc.problem or ""):
            problem += " (tags such as !!python/... are not read)"
        raise InputError.file(source, f"{where}: is not valid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise InputError.file(source, f"is not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> Any:
    """Read and parse the YAML file at `path` (text rule, size limit, the rules above)."""
    return load_yaml_located(path).doc


def load_yaml_located(path: str | Path) -> Located:
    """`load_yaml`, with the line of every field path (see `Located.at_line`)."""
    return parse_yaml_located(read_input_text(path, max_bytes=MAX_BYTES), str(path))

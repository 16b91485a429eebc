"""Files of per-province blocks (climates, time-of-use tariffs): a `default` block, the
fallback, and a `provinces` map of province name to block, each block read by the caller's
parser, which names the path of a bad field (`provinces.<name>.<field>`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from suanwang.network.loader import _Reader
from suanwang.yaml_input import load_yaml

T = TypeVar("T")
# a block's parser: (reader, node, path of the node in the file, province) -> the block
BlockParser = Callable[[_Reader, Any, str, str], T]


def load_province_blocks(file: Path, parse: BlockParser[T], blocks: str) -> dict[str, T]:
    """Every block of the file by province, the fallback under "default"; `blocks` names
    what a province maps to, for the error when `provinces` is not a map."""
    doc = load_yaml(file)
    r = _Reader(str(file))
    out = {"default": parse(r, r.get(doc, "default", ""), "default", "default")}
    provinces = r.get(doc, "provinces", "")
    if not isinstance(provinces, dict):
        raise r.fail("provinces", provinces, f"must map province names to {blocks}")
    for name, node in provinces.items():
        out[str(name)] = parse(r, node, f"provinces.{name}", str(name))
    return out

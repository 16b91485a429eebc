"""The compute network: the bundled national network and the loader that validates files."""

from suanwang.network.loader import (
    bundled_network_path,
    great_circle_km,
    load_network,
    network_to_dict,
    parse_network,
)

__all__ = [
    "bundled_network_path",
    "great_circle_km",
    "load_network",
    "network_to_dict",
    "parse_network",
]

"""`nearest`: lowest round trip first — compute stays in the east, next to its demand.

The before-东数西算 baseline: each job runs at the nearest site with free capacity.
"""

from __future__ import annotations

from suanwang.policies.base import RankingPolicy


class NearestPolicy(RankingPolicy):
    name = "nearest"

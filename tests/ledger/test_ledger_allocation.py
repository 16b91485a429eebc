"""Green allocation: a site-hour's green supply is handed out exactly, never twice, never more
than a job drew; by hand on small groups, and as invariants on many random groups."""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.ledger.allocation import ContractedFirst, GroupedDraws, ProRata, apportion


def draws(groups: list[list[int]], supply: list[int],
          tenants: list[list[str]] | None = None) -> GroupedDraws:
    sizes = [len(g) for g in groups]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat_tenants = [t for g in (tenants or [["t"] * n for n in sizes]) for t in g]
    return GroupedDraws(starts=starts,
                        draw_ukwh=np.array([x for g in groups for x in g], dtype=np.int64),
                        supply_ukwh=np.array(supply, dtype=np.int64), tenant=flat_tenants)


# ---- by hand -----------------------------------------------------------------------------

@pytest.mark.parametrize(("groups", "supply", "expected"), [
    # one group: 2 of 4 kWh green, split 1:3
    ([[1_000_000, 3_000_000]], [2_000_000], [500_000, 1_500_000]),
    # all green, none green
    ([[5, 7]], [12], [5, 7]),
    ([[5, 7]], [0], [0, 0]),
    # whole units by largest remainder; ties go to the earlier record
    ([[1, 1, 1]], [2], [1, 1, 0]),
    ([[3, 3, 4]], [5], [2, 1, 2]),  # shares 1.5, 1.5, 2.0: the tie goes to the first
    # two groups handed out independently
    ([[10], [1, 9]], [4, 5], [4, 1, 4]),  # second: shares 0.5, 4.5, the tie to the first
])
def test_pro_rata_by_hand(groups: list[list[int]], supply: list[int],
                          expected: list[int]) -> None:
    assert ProRata().allocate(draws(groups, supply)).tolist() == expected


@pytest.mark.parametrize(("supply", "expected"), [
    (4, [3, 1, 0]),  # the contracted tenant's 3 first, then the rest pro rata (1 of 5:5)
    (2, [2, 0, 0]),  # not even the contract is covered
    (13, [3, 5, 5]),  # everything green
    (8, [3, 3, 2]),  # 5 left for the others' 5 + 5: 2.5 each, the tie to the earlier
])
def test_contracted_first_by_hand(supply: int, expected: list[int]) -> None:
    rule = ContractedFirst(frozenset({"cma"}))
    got = rule.allocate(draws([[3, 5, 5]], [supply], [["cma", "x", "y"]])).tolist()
    assert got == expected


# ---- invariants on random groups ---------------------------------------------------------------

@pytest.mark.parametrize("rule", [ProRata(), ContractedFirst(frozenset({"t1", "t3"}))],
                         ids=lambda r: r.name)
def test_supply_is_handed_out_exactly_and_never_beyond_a_draw(rule: ProRata) -> None:
    rng = np.random.default_rng(11)
    groups, supply, tenants = [], [], []
    for _ in range(2000):
        n = int(rng.integers(1, 9))
        g = rng.integers(0, 10**10, n).tolist()
        if rng.random() < 0.1:
            g[0] = 0  # a draw of nothing
        share = rng.choice([0.0, 1.0, rng.random()])
        groups.append(g)
        supply.append(int(sum(g) * share))
        tenants.append([f"t{int(x)}" for x in rng.integers(0, 5, n)])
    d = draws(groups, supply, tenants)
    green = rule.allocate(d)
    assert green.dtype == np.int64
    assert np.all(green >= 0) and np.all(green <= d.draw_ukwh)
    sums = np.add.reduceat(green, d.starts[:-1])
    assert np.array_equal(sums, d.supply_ukwh)  # exactly: no kWh green twice, none lost


def test_apportion_sums_exactly_to_each_total() -> None:
    rng = np.random.default_rng(3)
    weights = rng.uniform(0, 1e4, 5000)
    starts = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 5000), 499, replace=False)),
                             [5000]]).astype(np.int64)
    totals = rng.integers(0, 10**9, 500)
    out = apportion(weights, starts, totals)
    assert np.array_equal(np.add.reduceat(out, starts[:-1]), totals)
    # each part is its exact share rounded down or up
    group = np.repeat(np.arange(500), np.diff(starts))
    exact = weights * (totals / np.add.reduceat(weights, starts[:-1]))[group]
    assert np.all(np.abs(out - exact) < 1.0 + 1e-6)

"""The offline welfare optimum of a round, on the same bids and asks (the benchmark for the
mechanism's welfare).

Welfare of a trade of `x` units between bid i and ask j for the bid's `hours`:
`(value_i - reserve_j - transit_ij) * x * hours_i` yuan -- buyers' values minus sellers' costs
minus transit. The optimum is the transportation LP

    max  sum_ij w_ij x_ij
    s.t. sum_j x_ij <= units_i,  sum_i x_ij <= units_j,  x_ij >= 0,  x_ij = 0 if infeasible

solved with HiGHS (`scipy.optimize.linprog`). Its constraint matrix is totally unimodular, so
a vertex solution is integral: the LP optimum is the integer optimum (with partial fills, the
same model the mechanism clears on). Only pairs with w_ij > 0 are variables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from suanwang.market.clearing import Clearing
from suanwang.market.feasibility import Book


@dataclass(frozen=True, slots=True)
class Optimum:
    welfare_yuan: float
    units_traded: float
    pairs: int  # LP variables (feasible pairs with positive welfare per unit-hour)


def pair_welfare_yuan_per_unit_h(book: Book) -> np.ndarray:
    """value_i - reserve_j - transit_ij, -inf where the pair cannot trade."""
    w = book.bid_value[:, None] - book.ask_reserve[None, :] - book.transit_yuan_per_unit_h
    return np.where(book.feasible, w, -np.inf)


def offline_optimum(book: Book, method: str = "highs-ipm") -> Optimum:
    """The welfare-maximising assignment of `book` (see the module)."""
    welfare, units, k, _ = _solve(book, method)
    return Optimum(welfare, units, k)


def optimum_assignment(book: Book, method: str = "highs-ds") -> list[tuple[int, int, int]]:
    """The optimum's trades as (bid index, ask index, units), units > 0, in (bid, ask) order.
    The default method (dual simplex) ends on a vertex, so the units are whole."""
    _, _, _, trades = _solve(book, method)
    return trades


def _solve(book: Book, method: str) -> tuple[float, float, int, list[tuple[int, int, int]]]:
    w = pair_welfare_yuan_per_unit_h(book)
    rows, cols = np.nonzero(w > 0)
    if len(rows) == 0:
        return 0.0, 0.0, 0, []
    gain = w[rows, cols] * book.bid_hours[rows]
    n, m, k = len(book.bids), len(book.asks), len(rows)
    var = np.arange(k)
    a_ub = coo_matrix((np.ones(2 * k), (np.concatenate((rows, n + cols)),
                                        np.concatenate((var, var)))), shape=(n + m, k)).tocsr()
    b_ub = np.concatenate((book.bid_units, book.ask_units)).astype(float)
    res = linprog(-gain, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method=method)
    if res.status != 0:
        raise RuntimeError(f"offline optimum: HiGHS did not solve the LP ({res.message})")
    x = np.round(res.x).astype(np.int64)
    trades = [(int(i), int(j), int(u)) for i, j, u in zip(rows, cols, x, strict=True) if u > 0]
    return float(-res.fun), float(res.x.sum()), k, trades


def mechanism_welfare_yuan(book: Book, clearing: Clearing) -> float:
    """The welfare the clearing realised: sum over matches of
    (value - reserve - actual transit) x units x hours."""
    bid_ix = {b.bid_id: i for i, b in enumerate(book.bids)}
    ask_ix = {a.ask_id: j for j, a in enumerate(book.asks)}
    total = 0.0
    for mt in clearing.matches:
        i, j = bid_ix[mt.bid_id], ask_ix[mt.ask_id]
        total += ((book.bid_value[i] - book.ask_reserve[j] - mt.transit_yuan_per_unit_h)
                  * mt.unit_h)
    return total

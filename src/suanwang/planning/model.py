"""The time-indexed slot model over job classes, solved by HiGHS (SciPy's `linprog`).

Its "pools" are the planning units, provider slices (`suanwang.planning.rates`): one
provider's share of a site's pool, with that share's units as capacity, so that the model
chooses the provider too. Classes (see `aggregate`) belong to pool groups: the jobs of a group
may run in the same slices.
With W_c a class's work and R_c[h] its rate cap (unit-hours), the variables are

    y[c, h] >= 0   the share of class c's work computed in slot h      (y <= R_c[h] / W_c)
    z[g, p, h] >= 0  unit-hours that pool group g computes in pool p in slot h

and the model is

    minimise    sum  z[g,p,h] * objective_per_unit_h[p, h]
    subject to  sum_h y[c,h] = 1                                    every class: all work done
                sum_{h<d} W_c y[c,h] >= due_c(d)                    every class and due slot d
                sum_p z[g,p,h] = sum_{c in g} W_c y[c,h]            every group and slot
                sum_g z[g,p,h] <= available[p, h]                   every pool and slot

which is the per-class model (class x pool x slot columns) written with far fewer columns: the
classes of a group share their pools and a pool-hour's price does not depend on who uses it.
`objective_per_unit_h` is the objective of one busy unit-hour of the slice in the slot
(`rates.objective_per_unit_h`): carbon, electricity cost, the tenants' bill or a mix.
Latency bounds and deadlines are never traded: they decide which columns exist. Rows and
columns are scaled so that general pools of millions of cores and accelerator pools of
thousands sit in one well-conditioned model.

Besides the optimum, a solve returns per pool and slot the planned unit-hours and the price of
capacity (the dual of its row, objective units per unit-hour, >= 0): what one more unit-hour
there would save. Policies add that price to a job's own objective when they choose where and
when it runs, so that jobs do not all crowd into the same green hours.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from suanwang.core.state import Topology
from suanwang.model import Job
from suanwang.planning.aggregate import JobClasses, aggregate
from suanwang.planning.demand import job_windows
from suanwang.planning.grid_rows import GridRows

OPTIMAL, INFEASIBLE = "optimal", "infeasible"
PRESOLVE_VARS = 20_000  # HiGHS's presolve pays off on large models, costs time on small ones
MEMO_SIZE = 4  # solutions kept: `optimal` and the carbon bound of one run solve the same model


@dataclass(frozen=True)
class SlotSolution:
    status: str  # OPTIMAL, INFEASIBLE, or HiGHS's message
    objective: float  # objective units (kg CO2 or yuan); nan unless optimal
    slot0: int  # absolute slot of column 0 of the arrays below
    flow_unit_h: np.ndarray  # (slices, slots): unit-hours planned per slice and slot
    price_per_unit_h: np.ndarray  # (slices, slots): dual price of capacity, >= 0
    n_vars: int
    n_rows: int
    solve_s: float


def interchangeable(topo: Topology, classes: JobClasses, objective_per_unit_h: np.ndarray,
                    slot0: int = 0) -> np.ndarray:
    """For each slice, the first slice it is interchangeable with in the model: of the same
    pool, with the same objective in every slot, and in the same pool groups. Such slices
    differ in nothing but capacity, so the model over their merged capacity has the same
    optimum (any split of a merged flow within the members' capacities is a solution of the
    unmerged model, and every solution of that merges into one) and the same capacity prices
    (by symmetry one optimal dual prices the members alike). With one provider per pool, or
    an objective blind to the bill, this keeps the model as small as the model over pools."""
    n = len(topo.slices)
    member: list[list[int]] = [[] for _ in range(n)]
    for g, pools in enumerate(classes.pools):
        for p in pools.tolist():
            member[p].append(g)
    first: dict[tuple[int, tuple[int, ...], bytes], int] = {}
    rep = np.empty(n, dtype=np.int64)
    # the objective over the slots the classes use (`slot0` is column 0's absolute slot)
    used = np.ascontiguousarray(objective_per_unit_h[:, :max(classes.last_slot - slot0, 0)])
    for p in range(n):
        key = (topo.slice_pool[p], tuple(member[p]), used[p].tobytes())
        rep[p] = first.setdefault(key, p)
    return rep


def merge_groups(classes: JobClasses, pools: list[np.ndarray]) -> JobClasses:
    """`classes` with pool groups `pools` (one per group of `classes`), groups with the same
    pools merged into one: the model has one balance row per group and slot and one column
    per group, pool and slot, so groups that merged slices made equal are solved once."""
    first: dict[tuple[int, ...], int] = {}
    remap = np.array([first.setdefault(tuple(p.tolist()), len(first)) for p in pools],
                     dtype=np.int64)
    merged = [np.asarray(k, dtype=np.int64) for k in first]
    return replace(classes, pools=merged,
                   group=remap[classes.group] if len(classes.group) else classes.group)


def solve_slot_model(topo: Topology, classes: JobClasses, objective_per_unit_h: np.ndarray,
                     slot0: int = 0, available_unit_h: np.ndarray | None = None,
                     time_limit_s: float | None = None,
                     power_cap_kwh: np.ndarray | None = None,
                     grid: GridRows | None = None) -> SlotSolution:
    """Solve the slot model.

    `objective_per_unit_h[p, h]` is the objective of a busy unit-hour of slice p in absolute
    slot `slot0 + h`, and `available_unit_h[p, h]` the slice's unit-hours free for these
    classes in that slot (default: its full capacity); both must cover every class's slots.
    `power_cap_kwh[s, h]` (sites x slots, inf where none; `power_caps.hourly_cap_kwh`) limits
    site s's facility energy in slot h: hard grid caps as constraints.
    `grid` (`grid_rows`, over the same slots) adds a planner's rows of grid events: ceilings
    with priced overflow and fill targets with a reward; their duals (per kWh at a site and
    slot) are added to the capacity price of each slice there (x its facility kW).
    Interchangeable slices (`interchangeable`) are solved as one; the planned flow is shared
    out among them in proportion to their free unit-hours, and each has the merged price.
    The last `MEMO_SIZE` solutions are kept (read-only arrays), keyed on everything they
    depend on (`_digest`): in `suanwang compare`, `optimal` and the carbon bound solve the
    same model, once.
    """
    n_slots = objective_per_unit_h.shape[1]
    installed = np.asarray(topo.slice_capacity, dtype=float)
    key = _digest(topo, classes, objective_per_unit_h, slot0, available_unit_h, time_limit_s,
                  power_cap_kwh, grid)
    with _SOLVED_LOCK:  # the live service may plan in more than one thread
        hit = _SOLVED.get(key)
        if hit is not None:
            _SOLVED.move_to_end(key)
    if hit is not None:
        return _widened(hit, n_slots)
    if available_unit_h is None:
        available_unit_h = np.repeat(installed[:, None], n_slots, axis=1)
    sol = _solve_merged(topo, classes, objective_per_unit_h, installed, available_unit_h,
                        slot0, time_limit_s, power_cap_kwh, grid)
    for a in (sol.flow_unit_h, sol.price_per_unit_h):
        a.setflags(write=False)
    with _SOLVED_LOCK:
        _SOLVED[key] = sol
        while len(_SOLVED) > MEMO_SIZE:
            _SOLVED.popitem(last=False)
    return sol


_SOLVED: OrderedDict[bytes, SlotSolution] = OrderedDict()
_SOLVED_LOCK = threading.Lock()


def solve_waiting(topo: Topology, jobs: list[Job], now_s: float, end_s: float,
                  objective_per_unit_h: np.ndarray, slot0: int, available: np.ndarray,
                  grid: GridRows | None = None) -> tuple[SlotSolution, bool]:
    """The slot model over waiting `jobs` from `now_s` to the plan's end `end_s` (the online
    planners' model: `rolling`, the posted prices' duals); if they cannot all meet their
    deadlines, solved again with the deadlines dropped to `end_s`. Returns the solution and
    whether the deadlines were dropped."""
    windows = job_windows(topo, jobs, now_s=now_s, late_end_s=end_s, horizon_end_s=end_s)
    sol = solve_slot_model(topo, aggregate(windows), objective_per_unit_h, slot0, available,
                           grid=grid)
    if sol.status == OPTIMAL:
        return sol, False
    relaxed = job_windows(topo, jobs, now_s=now_s, late_end_s=end_s, horizon_end_s=end_s,
                          drop_deadlines=True)
    return solve_slot_model(topo, aggregate(relaxed), objective_per_unit_h, slot0, available,
                            grid=grid), True


def _digest(topo: Topology, classes: JobClasses, objective_per_unit_h: np.ndarray, slot0: int,
            available_unit_h: np.ndarray | None, time_limit_s: float | None,
            power_cap_kwh: np.ndarray | None = None, grid: GridRows | None = None) -> bytes:
    """A key for everything the model's solution depends on: the slices, the classes, and
    the objective and availability over the slots the classes use (a rate matrix that runs
    further changes nothing)."""
    used = max(classes.last_slot - slot0, 0)
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((slot0, used, time_limit_s, available_unit_h is None,
                   [len(p) for p in classes.pools])).encode())
    for a in (np.asarray(topo.slice_capacity, dtype=float),
              np.asarray(topo.slice_pool, dtype=np.int64), *classes.pools, classes.group,
              classes.first_slot, classes.n_slots, classes.rate_unit_h, classes.work_unit_h,
              classes.due_class, classes.due_slot, classes.due_unit_h,
              np.ascontiguousarray(objective_per_unit_h[:, :used], dtype=float)):
        h.update(np.ascontiguousarray(a).tobytes())
    if available_unit_h is not None:
        h.update(np.ascontiguousarray(available_unit_h[:, :used], dtype=float).tobytes())
    if power_cap_kwh is not None:
        h.update(b"caps" + np.ascontiguousarray(power_cap_kwh[:, :used], dtype=float).tobytes())
    if grid is not None:
        h.update(b"grid" + grid.digest(used))
    return h.digest()


def _widened(sol: SlotSolution, n_slots: int) -> SlotSolution:
    """A memoised solution with its arrays cut or padded (zeros: no class uses those
    slots) to `n_slots` columns."""
    def fit(a: np.ndarray) -> np.ndarray:
        if a.shape[1] >= n_slots:
            return a[:, :n_slots]
        return np.pad(a, ((0, 0), (0, n_slots - a.shape[1])))
    return replace(sol, flow_unit_h=fit(sol.flow_unit_h),
                   price_per_unit_h=fit(sol.price_per_unit_h))


def _solve_merged(topo: Topology, classes: JobClasses, objective_per_unit_h: np.ndarray,
                  installed: np.ndarray, available_unit_h: np.ndarray, slot0: int,
                  time_limit_s: float | None,
                  power_cap_kwh: np.ndarray | None = None,
                  grid: GridRows | None = None) -> SlotSolution:
    n_slots = objective_per_unit_h.shape[1]
    site = np.asarray(topo.slice_site, dtype=np.int64)
    kw = np.asarray(topo.slice_kw_facility, dtype=float)
    rep = interchangeable(topo, classes, objective_per_unit_h, slot0)
    if (rep == np.arange(len(rep))).all():
        return _solve(classes, objective_per_unit_h, installed, available_unit_h, slot0,
                      time_limit_s, (site, kw, power_cap_kwh), grid)
    units, index = np.unique(rep, return_inverse=True)
    merged_installed = np.bincount(index, weights=installed, minlength=len(units))
    merged_available = np.zeros((len(units), n_slots))
    np.add.at(merged_available, index, np.maximum(available_unit_h, 0.0))
    merged = merge_groups(classes, [np.unique(index[p]) for p in classes.pools])
    sol = _solve(merged, objective_per_unit_h[units], merged_installed, merged_available,
                 slot0, time_limit_s, (site[units], kw[units], power_cap_kwh), grid)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(merged_available[index] > 0,
                         np.maximum(available_unit_h, 0.0) / merged_available[index], 0.0)
    return replace(sol, flow_unit_h=sol.flow_unit_h[index] * share,
                   price_per_unit_h=sol.price_per_unit_h[index])


def _solve(classes: JobClasses, objective_per_unit_h: np.ndarray, installed: np.ndarray,
           available_unit_h: np.ndarray, slot0: int,
           time_limit_s: float | None,
           power: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
           grid: GridRows | None = None) -> SlotSolution:
    """The model over `installed` pools; `power` = (site, facility kW per unit of each pool,
    the caps in kWh per site and slot or None)."""
    n_pools = len(installed)
    n_slots = objective_per_unit_h.shape[1]
    cap = np.maximum(installed, 1.0)  # row and column scale
    n_cls = len(classes)
    empty = np.zeros((n_pools, n_slots))
    if n_cls == 0:
        return SlotSolution(OPTIMAL, 0.0, slot0, empty, empty.copy(), 0, 0, 0.0)
    first = classes.first_slot - slot0
    if int(first.min()) < 0 or int((first + classes.n_slots).max()) > n_slots:
        raise ValueError("the rate matrix does not cover every class's slots")
    work = classes.work_unit_h

    # y columns: class c's slots, in class order
    n_y = int(classes.n_slots.sum())
    y_cls = np.repeat(np.arange(n_cls), classes.n_slots)
    y_slot = np.arange(n_y) - np.repeat(classes.offset, classes.n_slots) + first[y_cls]
    y_grp = classes.group[y_cls]
    y_ub = classes.rate_unit_h / work[y_cls]

    # balance rows: (group, slot) pairs that some class uses; z columns per pool of the group
    n_groups = len(classes.pools)
    bal_key = y_grp * n_slots + y_slot
    bal_used, y_bal = np.unique(bal_key, return_inverse=True)
    y_bal = y_bal.ravel()
    bal_grp = bal_used // n_slots
    bal_slot = bal_used % n_slots
    group_size = np.array([cap[p].sum() for p in classes.pools])  # balance row scale
    z_bal = np.concatenate([np.repeat(np.flatnonzero(bal_grp == g), len(classes.pools[g]))
                            for g in range(n_groups)])
    z_pool = np.concatenate([np.tile(classes.pools[g], int((bal_grp == g).sum()))
                             for g in range(n_groups)])
    z_slot = bal_slot[z_bal]
    n_z = len(z_bal)
    # capacity rows: (pool, slot) pairs some z column uses; z is scaled to a share of the pool
    cap_key = z_pool * n_slots + z_slot
    cap_used, z_cap = np.unique(cap_key, return_inverse=True)
    z_cap = z_cap.ravel()
    cap_pool = cap_used // n_slots
    cap_slot = cap_used % n_slots
    n_bal, n_cap = len(bal_used), len(cap_used)

    cost = np.concatenate([np.zeros(n_y),
                           cap[z_pool] * objective_per_unit_h[z_pool, z_slot]])
    a_eq = sp.csr_array((
        np.concatenate([np.ones(n_y), -work[y_cls] / group_size[bal_grp[y_bal]],
                        cap[z_pool] / group_size[bal_grp[z_bal]]]),
        (np.concatenate([y_cls, n_cls + y_bal, n_cls + z_bal]),
         np.concatenate([np.arange(n_y), np.arange(n_y), n_y + np.arange(n_z)]))),
        shape=(n_cls + n_bal, n_y + n_z))
    b_eq = np.concatenate([np.ones(n_cls), np.zeros(n_bal)])
    # due rows: -sum_{first <= h < d} y[c, h] <= -due / W_c
    due_c = classes.due_class
    due_len = classes.due_slot - classes.first_slot[due_c]
    n_due = len(due_c)
    due_row = np.repeat(np.arange(n_due), due_len)
    due_col = (np.repeat(classes.offset[due_c], due_len) + np.arange(int(due_len.sum()))
               - np.repeat(np.cumsum(due_len) - due_len, due_len))
    a_ub = sp.csr_array((
        np.concatenate([-np.ones(len(due_row)), np.ones(n_z)]),
        (np.concatenate([due_row, n_due + z_cap]),
         np.concatenate([due_col, n_y + np.arange(n_z)]))),
        shape=(n_due + n_cap, n_y + n_z))
    b_ub = np.concatenate([-classes.due_unit_h / work[due_c],
                           np.maximum(available_unit_h[cap_pool, cap_slot], 0.0)
                           / cap[cap_pool]])
    if power is not None and power[2] is not None:  # hard caps: kWh per site and slot
        p_site, p_kw, cap_kwh = power
        z_site = p_site[z_pool]
        limit = cap_kwh[z_site, z_slot]
        capped = np.flatnonzero(np.isfinite(limit))
        if len(capped):
            key = z_site[capped] * n_slots + z_slot[capped]
            rows_used, row = np.unique(key, return_inverse=True)
            coef = p_kw[z_pool[capped]] * cap[z_pool[capped]]  # kWh per unit of z
            scale = np.zeros(len(rows_used))
            np.maximum.at(scale, row.ravel(), coef)
            scale = np.maximum(scale, 1e-12)
            extra = sp.csr_array((coef / scale[row.ravel()],
                                  (row.ravel(), n_y + capped)),
                                 shape=(len(rows_used), n_y + n_z))
            a_ub = sp.vstack([a_ub, extra], format="csr")
            b_ub = np.concatenate([b_ub, np.maximum(
                cap_kwh[rows_used // n_slots, rows_used % n_slots], 0.0) / scale])
    bounds = np.stack([np.zeros(n_y + n_z), np.concatenate([y_ub, np.full(n_z, np.inf)])],
                      axis=1)
    n_plain = a_ub.shape[0]
    rows: _GridIndex | None = None
    if grid is not None and power is not None:
        rows = _grid_rows(grid, power[0], power[1], cap, z_pool, z_slot, n_y + n_z, slot0,
                          n_slots)
        if rows is not None:
            a_ub = sp.vstack([sp.hstack([a_ub, sp.csr_array((a_ub.shape[0], rows.n_cols))]),
                              rows.a], format="csr")
            b_ub = np.concatenate([b_ub, rows.b])
            a_eq = sp.hstack([a_eq, sp.csr_array((a_eq.shape[0], rows.n_cols))], format="csr")
            cost = np.concatenate([cost, rows.cost])
            bounds = np.concatenate([bounds, rows.bounds])
    options: dict[str, float | bool] = {"presolve": n_y + n_z > PRESOLVE_VARS}
    if time_limit_s is not None:
        options["time_limit"] = time_limit_s
    t0 = time.perf_counter()
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds,
                  method="highs", options=options)
    solve_s = time.perf_counter() - t0
    n_vars, n_rows = len(cost), n_cls + n_bal + a_ub.shape[0]
    if res.status != 0:
        status = INFEASIBLE if res.status == 2 else str(res.message)
        return SlotSolution(status, float("nan"), slot0, empty, empty.copy(), n_vars, n_rows,
                            solve_s)
    flow = np.zeros((n_pools, n_slots))
    np.add.at(flow, (z_pool, z_slot), res.x[n_y:n_y + n_z] * cap[z_pool])
    price = np.zeros((n_pools, n_slots))
    marg = np.asarray(res.ineqlin.marginals)[n_due:n_due + n_cap]
    price[cap_pool, cap_slot] = np.maximum(-marg, 0.0) / cap[cap_pool]
    if rows is not None and power is not None:  # per kWh at the site and slot, x kW
        all_marg = np.asarray(res.ineqlin.marginals)
        site_price = np.zeros((int(max(power[0].max(initial=0), rows.site.max(initial=0))) + 1,
                               n_slots))
        per_kwh = -all_marg[n_plain + np.arange(len(rows.site))] * rows.sign / rows.scale
        # a fill the plan meets exactly has a degenerate dual (HiGHS may report 0: the
        # plan's own work covers it); where the plan draws work into a fill, its reward is
        # the price, so that the jobs it planned there choose it
        drawn = (rows.u_col >= 0) & (res.x[np.maximum(rows.u_col, 0)] > 1e-9)
        per_kwh[drawn] = np.minimum(per_kwh[drawn], -rows.reward)
        np.add.at(site_price, (rows.site, rows.slot), per_kwh)
        price += power[1][:, None] * site_price[power[0]]
    return SlotSolution(OPTIMAL, float(res.fun), slot0, flow, price, n_vars, n_rows, solve_s)


@dataclass(frozen=True)
class _GridIndex:
    a: sp.csr_array  # the rows over every column (y, z, then the new ones)
    b: np.ndarray
    cost: np.ndarray  # of the new columns
    bounds: np.ndarray  # (new columns, 2)
    n_cols: int
    site: np.ndarray  # per row: site, slot, row scale (kWh per unit of the row), and sign
    slot: np.ndarray  # (+1: a ceiling, one more kWh outside tightens it; -1: a fill)
    scale: np.ndarray
    sign: np.ndarray
    u_col: np.ndarray  # per row: a fill's reward column (-1 for a ceiling)
    reward: float  # a fill's reward per kWh


def _grid_rows(grid: GridRows, p_site: np.ndarray, p_kw: np.ndarray, cap: np.ndarray,
               z_pool: np.ndarray, z_slot: np.ndarray, n_before: int, slot0: int,
               n_slots: int) -> _GridIndex | None:
    """The ceiling rows (sum kW z - overflow <= limit) and fill rows (u - sum kW z <= 0,
    0 <= u <= target) of `grid` over the z columns (offset by the y columns: column index
    n_before - len(z) + i), each scaled to the largest coefficient of its z columns."""
    off = grid.slot0 - slot0
    width = grid.limit_kwh.shape[1]
    gs = z_slot - off  # the z columns' slots in the grid's columns
    inside = (gs >= 0) & (gs < width)
    z_site = p_site[z_pool]
    coef = p_kw[z_pool] * cap[z_pool]  # kWh per unit of z
    z0 = n_before - len(z_pool)
    blocks = []
    for kind in ("limit", "fill"):
        where = np.zeros(len(z_pool), dtype=bool)
        if kind == "limit":
            where[inside] = np.isfinite(grid.limit_kwh[z_site[inside], gs[inside]])
        else:
            where[inside] = grid.fill_kwh[z_site[inside], gs[inside]] > 0
        idx = np.flatnonzero(where)
        if not len(idx):
            continue
        key = z_site[idx] * n_slots + z_slot[idx]
        used, row = np.unique(key, return_inverse=True)
        row = row.ravel()
        scale = np.zeros(len(used))
        np.maximum.at(scale, row, coef[idx])
        scale = np.maximum(scale, 1e-12)
        r_site, r_slot = used // n_slots, used % n_slots
        target = (grid.limit_kwh if kind == "limit" else grid.fill_kwh)[r_site, r_slot - off]
        blocks.append((kind, idx, row, scale, r_site, r_slot, target))
    if not blocks:
        return None
    n_rows = sum(len(b[3]) for b in blocks)
    data, ri, ci = [], [], []
    b_out, costs, lo_hi, sites, slots, scales, signs, u_cols = [], [], [], [], [], [], [], []
    r0 = 0
    n_new = 0
    for kind, idx, row, scale, r_site, r_slot, target in blocks:
        n = len(scale)
        sign = 1.0 if kind == "limit" else -1.0
        data.append(sign * coef[idx] / scale[row])
        ri.append(r0 + row)
        ci.append(z0 + idx)
        new_cols = n_before + n_new + np.arange(n)
        if kind == "limit":
            over = grid.overflow_per_kwh[r_site, r_slot - off]
            soft = np.isfinite(over)
            # overflow columns only where the limit may be broken at a price
            k = np.flatnonzero(soft)
            data.append(-np.ones(len(k)))
            ri.append(r0 + k)
            ci.append(n_before + n_new + np.arange(len(k)))
            costs.append(over[k] * scale[k])
            lo_hi.append(np.stack([np.zeros(len(k)), np.full(len(k), np.inf)], axis=1))
            b_out.append(np.maximum(target, 0.0) / scale)
            u_cols.append(np.full(n, -1, dtype=np.int64))
            n_new += len(k)
        else:
            data.append(np.ones(n))
            ri.append(r0 + np.arange(n))
            ci.append(new_cols)
            costs.append(np.full(n, -grid.reward_per_kwh) * scale)
            lo_hi.append(np.stack([np.zeros(n), np.maximum(target, 0.0) / scale], axis=1))
            b_out.append(np.zeros(n))
            u_cols.append(new_cols)
            n_new += n
        sites.append(r_site)
        slots.append(r_slot)
        scales.append(scale)
        signs.append(np.full(n, sign))
        r0 += n
    a = sp.csr_array((np.concatenate(data), (np.concatenate(ri), np.concatenate(ci))),
                     shape=(n_rows, n_before + n_new))
    return _GridIndex(a, np.concatenate(b_out), np.concatenate(costs),
                      np.concatenate(lo_hi), n_new, np.concatenate(sites),
                      np.concatenate(slots), np.concatenate(scales), np.concatenate(signs),
                      np.concatenate(u_cols), grid.reward_per_kwh)

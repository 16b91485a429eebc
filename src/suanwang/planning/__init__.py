"""Planning with HiGHS: the time-indexed slot model, its LP lower bound, and exact small plans.

The planning unit is a provider slice (site, provider, pool: `Topology.slices`), with the
provider's quota as its capacity, so a plan chooses the provider with the site and the time;
the modules below say "pool" for it. A network without providers has one slice per pool.

- `rates`: the objective (carbon, electricity, the tenants' bill, a mix) per busy unit-hour
  of every slice and hour.
- `demand`: each job's feasible slices and compute-start windows; infeasible jobs with why.
- `aggregate`: job classes, so that the model stays small and its optimum stays a bound.
- `model`: the slot model over classes (SciPy's HiGHS); optimum, planned flows, capacity prices.
- `bound`: the lower bound on a whole trace and the actual series (`suanwang compare`).
- `choose`: a job's options (slice, start) priced by objective plus capacity price, within
  the tenant's lists, caps and preferences; bookings.
- `milp`: the exact plan of a small trace (one binary per job, slice and start).
- `priced`: the decision loop the planning policies share (`optimal`, `rolling`).
"""

from suanwang.planning.bound import Bound, compare_bounds, lower_bound
from suanwang.planning.context import PolicyContext
from suanwang.planning.demand import Infeasible
from suanwang.planning.objective import Objective

__all__ = ["Bound", "Infeasible", "Objective", "PolicyContext", "compare_bounds",
           "lower_bound"]

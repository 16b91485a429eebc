"""Planning with HiGHS: the time-indexed slot model, its LP lower bound, and exact small plans.

- `demand`: each job's feasible pools and compute-start windows; infeasible jobs with why.
- `aggregate`: job classes, so that the model stays small and its optimum stays a bound.
- `model`: the slot model over classes (SciPy's HiGHS); optimum, planned flows, capacity prices.
- `bound`: the lower bound on a whole trace and the actual series (`suanwang compare`).
- `choose`: a job's options (pool, start) priced by objective plus capacity price; bookings.
- `milp`: the exact plan of a small trace (one binary per job, pool and start).
- `priced`: the decision loop the planning policies share (`optimal`, `rolling`).
"""

from suanwang.planning.bound import Bound, compare_bounds, lower_bound
from suanwang.planning.context import PolicyContext
from suanwang.planning.demand import Infeasible
from suanwang.planning.objective import Objective

__all__ = ["Bound", "Infeasible", "Objective", "PolicyContext", "compare_bounds",
           "lower_bound"]

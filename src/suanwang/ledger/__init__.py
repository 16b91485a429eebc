"""Green-power traceability (绿电溯源): the hash-chained ledger, green allocation, certificates.

- `record`: one record (a job's draw at a site in an hour) and its canonical serialisation;
- `chain`: appending and verifying records (pure, no I/O);
- `allocation`: sharing a site-hour's finite green supply among the jobs drawing in it;
- `build`: records of a simulation run, vectorised; `sim_output`: writing them with a run;
- `store`: the small file store (ledger.jsonl + ledger.head.json);
- `totals`, `certificate`, `certificate_page`: sums, certificates and their page;
- `factors`: the CO2 factors used and their sources; `period`: periods in Beijing time.
"""

from suanwang.ledger.allocation import DEFAULT_RULE, ContractedFirst, GreenRule, ProRata
from suanwang.ledger.chain import GENESIS, Chain, Entry, Problem, Verification, verify_lines
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.store import HEAD_FILE, LEDGER_FILE, FileLedger

__all__ = [
           "DEFAULT_RULE",
           "GENESIS",
           "HEAD_FILE",
           "LEDGER_FILE",
           "Chain",
           "ContractedFirst",
           "Entry",
           "FileLedger",
           "GreenRule",
           "LedgerRecord",
           "ProRata",
           "Problem",
           "Verification",
           "verify_lines",
]

"""`suanwang report`: the compute statistics bulletin (算力统计公报)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from suanwang.cli_errors import fail
from suanwang.cli_output import stdout
from suanwang.errors import InputError
from suanwang.ledger.certificate import LedgerBroken
from suanwang.ledger.period import parse_period
from suanwang.report.run_files import network_dict, read_network_json, read_run

app = typer.Typer(no_args_is_help=True, help="Reports 报告: the compute statistics bulletin.")


_fail = fail


@app.command()
def bulletin(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the bulletin to.")],
    run: Annotated[Path | None, typer.Option(
        "--run", help="A run directory written by `simulate --out` (its ledger, jobs.csv, "
                      "sites.csv, network.json).")] = None,
    period: Annotated[str | None, typer.Option(
        "--period", help="Beijing time: 2024, 2024-Q2, 2024-06, 2024-06-03 or "
                         "2024-06-01..2024-06-07; default: the whole run.")] = None,
    network: Annotated[Path | None, typer.Option(
        "--network", help="Network file (YAML) when there is no run; default: the bundled "
                          "national network.")] = None,
) -> None:
    """Write a statistics bulletin in Chinese and English (Markdown and HTML, PNG charts, and
    bulletin.json with every figure unrounded): compute by kind and site; with --run also
    utilisation, energy, green share, CO2 both ways and avoided, cost, east-to-west flows and
    latency classes."""
    # matplotlib takes most of a second to import: only this command pays for it
    from suanwang.report.bulletin import write_bulletin

    if run is not None and network is not None:
        raise _fail("--network and --run: a run's bulletin uses the run's own network.json; "
                    "give one of them")
    try:
        p = parse_period(period) if period is not None else None
        if run is not None:
            net = read_network_json(run)
            data = read_run(run)
        else:
            net = network_dict(network)
            data = None
        files = write_bulletin(net, data, p, out)
    except LedgerBroken as exc:
        raise _fail(f"the run's ledger does not verify: {exc}", code=1) from None
    except InputError as exc:
        raise _fail(str(exc)) from None
    stdout().print(f"wrote {len(files)} files to {out}: "
                  + ", ".join(f.name for f in files), highlight=False, soft_wrap=True)

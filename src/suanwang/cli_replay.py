"""`suanwang replay`: the live scheduler's session fed back to the same core, decision by
decision (`suanwang.service.replay`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def replay(db: Annotated[str | None, typer.Option(
               "--db", metavar="URL", help="The service's database (default: the SQLite file "
                                           "of --data-dir).", show_default=False)] = None,
           data_dir: Annotated[Path, typer.Option(
               "--data-dir", help="Where `suanwang up | serve` kept its data.")
           ] = Path("suanwang-data"),
           schema: Annotated[str | None, typer.Option(
               "--schema", help="PostgreSQL schema the service used.", show_default=False)
           ] = None,
           network: Annotated[Path | None, typer.Option(
               "--network", help="The network file the service was started with (default: "
                                 "the bundled one).", show_default=False)] = None,
           out: Annotated[Path, typer.Option(
               "--out", help="Folder for decisions.csv and summary.json.")] = Path("replay"),
           ) -> None:
    """Replay a live session: every input the live scheduler took, fed to the same core, and
    every decision compared with the one it made. Exit code 1 if any differs."""
    from suanwang.errors import InputError
    from suanwang.network.loader import load_network
    from suanwang.service.db import make_engine
    from suanwang.service.replay import ReplayError, write_replay
    from suanwang.service.replay import replay as run_replay
    from suanwang.service.store import Store

    url = db or f"sqlite:///{(data_dir / 'suanwang.db').resolve()}"
    if db is None and not (data_dir / "suanwang.db").exists():
        err_console.print(f"[bold red]error:[/] no database at {data_dir / 'suanwang.db'}; "
                          "give --db URL or --data-dir DIR", highlight=False)
        raise typer.Exit(2)
    try:
        net = load_network(network)
    except InputError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    engine = make_engine(url, schema)
    store: Store | None = None
    try:
        store = Store(engine)
        try:
            result = run_replay(store, net, store.scheduler_log(limit=10**9))
        except ReplayError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
    finally:
        if store is not None:
            store.close()
        else:
            engine.dispose()
    files = write_replay(result, out)
    differ = result.differing
    console.print(f"replayed {result.inputs:,} inputs over {result.starts} scheduler start(s): "
                  f"{result.decisions:,} decisions, {result.decisions - len(differ):,} "
                  f"reproduced, {len(differ):,} differ; wrote "
                  f"{', '.join(str(f) for f in files)}", highlight=False)
    if not result.reproduced:
        for r in differ[:5]:
            console.print(f"  live {r['live']}\n  replay {r['replay']}", highlight=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(replay)

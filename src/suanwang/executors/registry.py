"""Executors by backend name, and the deployment file that says which site runs where.

Deployment file (YAML), every key optional:

    default: {backend: local}            # sites not listed below
    sites:
      horinger: {backend: slurm, partition: horinger, account: "sw-{tenant}"}
      jining:   {backend: ray, address: "127.0.0.1:6379", resource: site_jining}

Tenants map to accounts through a Slurm site's `account`: a fixed name charges every tenant's
jobs to one account; a pattern with `{tenant}` (`sw-{tenant}`) gives each tenant its own
(`--account=sw-alice`), which Slurm's associations then limit and account for. Ray has no
accounts: its tasks run as the Ray workers' user for every tenant. The local backend's
settings are in `executors.local` (`run_as`, time margins).

Backends: `local` (processes on this machine), `slurm`, `ray` (when installed); `clock` means
no executor: the job just takes its stated duration on the run clock. Adding a backend: one
module and one line in `BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from suanwang.errors import InputError
from suanwang.executors.base import TENANT_PLACEHOLDER, Executor, ExecutorConfig
from suanwang.executors.ray_tasks import make_ray
from suanwang.executors.slurm import make_slurm


def _local(cfg: ExecutorConfig, log_dir: Path) -> Executor:
    from suanwang.executors.local import make_local

    return make_local(cfg.settings, log_dir)


BACKENDS: dict[str, Callable[[ExecutorConfig, Path], Executor]] = {
    "local": _local,
    "slurm": make_slurm,
    "ray": make_ray,
}
NO_EXECUTOR = "clock"


def register_backend(name: str, factory: Callable[[ExecutorConfig, Path], Executor]) -> None:
    BACKENDS[name] = factory


def load_deployment(path: Path | None, site_ids: list[str],
                    default_backend: str = NO_EXECUTOR) -> dict[str, ExecutorConfig]:
    """Each site's backend config; without a file, every site uses `default_backend`."""
    configs = {s: ExecutorConfig(default_backend) for s in site_ids}
    if path is None:
        return configs
    source = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(source, "(file)", source, f"cannot be read as YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(source, "(document)", type(doc).__name__, "must be a mapping")
    default = _config(source, "default", doc.get("default", {"backend": default_backend}))
    configs = {s: default for s in site_ids}
    sites = doc.get("sites", {}) or {}
    if not isinstance(sites, dict):
        raise InputError(source, "sites", sites, "must map site id to {backend, ...}")
    for site_id, node in sites.items():
        if site_id not in site_ids:
            raise InputError(source, f"sites.{site_id}", site_id,
                             f"unknown site; known: {', '.join(site_ids)}")
        configs[site_id] = _config(source, f"sites.{site_id}", node)
    return configs


def _config(source: str, field: str, node: Any) -> ExecutorConfig:
    if not isinstance(node, dict) or not isinstance(node.get("backend"), str):
        raise InputError(source, f"{field}.backend", node, "needs {backend: <name>, ...}")
    backend = node["backend"]
    if backend != NO_EXECUTOR and backend not in BACKENDS:
        raise InputError(source, f"{field}.backend", backend,
                         f"unknown backend; known: {', '.join([NO_EXECUTOR, *BACKENDS])}")
    account = node.get("account")
    if isinstance(account, str):
        rest = account.replace(TENANT_PLACEHOLDER, "")
        if "{" in rest or "}" in rest:
            raise InputError(source, f"{field}.account", account,
                             f"an account name, or a pattern with {TENANT_PLACEHOLDER} (each "
                             f"tenant's own, e.g. sw-{TENANT_PLACEHOLDER}); nothing else in "
                             "braces")
    return ExecutorConfig(backend, {k: v for k, v in node.items() if k != "backend"})


def make_executors(configs: dict[str, ExecutorConfig], log_dir: Path
                   ) -> dict[str, Executor | None]:
    """One executor per distinct (backend, settings); sites sharing one share the object."""
    made: dict[str, Executor] = {}
    out: dict[str, Executor | None] = {}
    for site_id, cfg in configs.items():
        if cfg.backend == NO_EXECUTOR:
            out[site_id] = None
            continue
        key = f"{cfg.backend}:{sorted(cfg.settings.items())!r}"
        if key not in made:
            made[key] = BACKENDS[cfg.backend](cfg, log_dir)
        out[site_id] = made[key]
    return out

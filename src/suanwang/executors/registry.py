"""Executors by backend name, and the deployment file that says which site runs where.

Deployment file (YAML), every key optional:

    default: {backend: local}            # sites not listed below
    sites:
      horinger:
        backend: slurm
        partition: horinger
        account: "sw-{tenant}"
        providers:                       # a provider reached through an engine of its own
          scnet: {backend: slurm, partition: scnet}
          bank-horinger: {backend: local}
      jining:   {backend: ray, address: "127.0.0.1:6379", resource: site_jining}

A site's `providers` bind some of its providers to their own backend (the network file's
`executor` names the kind of engine; this file says where it is); a provider not listed is
reached through its site's backend. The configs are keyed by site id, and by `binding_key`
(`"site/provider"`) for a provider with a binding of its own. A binding runs on the clock only
where its site does (the scheduler frees clock jobs' units at their estimated end per site); a
binding to a provider the site does not have is refused naming it. When a provider's own
backend cannot be reached, only that provider's pools stop taking work; the site's other
providers go on.

Tenants map to accounts through a Slurm site's `account`: a fixed name charges every tenant's
jobs to one account; a pattern with `{tenant}` (`sw-{tenant}`) gives each tenant its own
(`--account=sw-alice`), which Slurm's associations then limit and account for. Ray has no
accounts: its tasks run as the Ray workers' user for every tenant. The local backend's
settings are in `executors.local` (`run_as`, time margins).

Backends: `local` (processes on this machine), `slurm`, `ray` (when installed); `clock` means
no executor: the job just takes its stated duration on the run clock.

`workers: true` on a binding (or on `default`) says executor workers serve it (`suanwang
worker --site S [--provider P]`, PostgreSQL only): the scheduler queues its runs in the
database instead of calling the backend itself, and a worker that claims them calls the
backend with these settings (`service.work_queue`).

The file is checked whole at load (so the service refuses it at start, not later): the rules of
`suanwang.yaml_input`, an unknown key at any level refused with the known ones listed, every
setting's type and range (`suanwang.bounds.DEPLOYMENT`), and a Ray `address` with a port must
answer a TCP connect within `RAY_CHECK_S`. Adding a backend: one
module and one line in `BACKENDS`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suanwang.errors import InputError
from suanwang.executors.base import TENANT_PLACEHOLDER, Executor, ExecutorConfig
from suanwang.executors.ray_tasks import RaySettings, make_ray
from suanwang.executors.ray_tasks import _host_port as ray_host_port
from suanwang.executors.slurm import SlurmSettings, make_slurm, parse_settings
from suanwang.yaml_input import load_yaml_located

RAY_CHECK_S = 2.0  # the longest the connect check of a Ray address at load waits


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


BINDING_SEP = "/"


def binding_key(site_id: str, provider_id: str) -> str:
    """The key of a provider's own backend binding (`executors` and health are keyed by it)."""
    return f"{site_id}{BINDING_SEP}{provider_id}"


def load_deployment(path: Path | None, site_ids: list[str],
                    default_backend: str = NO_EXECUTOR,
                    providers: dict[str, list[str]] | None = None
                    ) -> dict[str, ExecutorConfig]:
    """Each site's backend config, and each provider binding's (keyed `binding_key`);
    without a file, every site uses `default_backend`. `providers` (site -> provider ids)
    lets the file bind providers."""
    configs = {s: ExecutorConfig(default_backend) for s in site_ids}
    if path is None:
        return configs
    located = load_yaml_located(path)
    try:
        return _deployment(str(path), located.doc or {}, site_ids, default_backend,
                           providers or {})
    except InputError as exc:
        raise located.at_line(exc) from None


def _deployment(source: str, doc: Any, site_ids: list[str], default_backend: str,
                providers: dict[str, list[str]]) -> dict[str, ExecutorConfig]:
    if not isinstance(doc, dict):
        raise InputError(source, "(document)", type(doc).__name__,
                         "must be a mapping, e.g. {default: {backend: local}, sites: {...}}")
    unknown = sorted(str(k) for k in doc if k not in ("default", "sites"))
    if unknown:
        raise InputError(source, unknown[0], doc[unknown[0]], "unknown key; known: default, sites")
    default = _config(source, "default", doc.get("default", {"backend": default_backend}))
    configs = {s: default for s in site_ids}
    sites = doc.get("sites", {}) or {}
    if not isinstance(sites, dict):
        raise InputError(source, "sites", sites, "must map site id to {backend, ...}, "
                         "e.g. {horinger: {backend: local}}")
    for site_id, node in sites.items():
        if site_id not in site_ids:
            raise InputError(source, f"sites.{site_id}", site_id,
                             f"unknown site; known: {', '.join(site_ids)}")
        bound = node.get("providers") if isinstance(node, dict) else None
        if isinstance(node, dict) and "providers" in node:
            node = {k: v for k, v in node.items() if k != "providers"}
        configs[site_id] = _config(source, f"sites.{site_id}", node)
        if bound is None:
            continue
        if not isinstance(bound, dict):
            raise InputError(source, f"sites.{site_id}.providers", bound,
                             "must map provider id to {backend, ...}, e.g. "
                             "{scnet: {backend: slurm, partition: scnet}}")
        known = providers.get(site_id, [])
        for prov_id, prov_node in bound.items():
            field = f"sites.{site_id}.providers.{prov_id}"
            if prov_id not in known:
                raise InputError(source, field, prov_id, "unknown provider at this site; "
                                 f"known: {', '.join(known) or '(none)'}")
            cfg = _config(source, field, prov_node)
            if (cfg.backend == NO_EXECUTOR) != (configs[site_id].backend == NO_EXECUTOR):
                raise InputError(source, f"{field}.backend", cfg.backend,
                                 f"the site's backend is {configs[site_id].backend}: a "
                                 "provider runs on the clock only where its site does")
            configs[binding_key(site_id, prov_id)] = cfg
    checked: set[int] = set()
    for site_id, cfg in configs.items():
        if id(cfg) not in checked:
            checked.add(id(cfg))
            where = (f"sites.{site_id.replace(BINDING_SEP, '.providers.')}"
                     if cfg is not default else "default")
            _check_settings(source, where, cfg)
    return configs


def _settings_class(backend: str) -> type | None:
    if backend == "local":
        from suanwang.executors.local import LocalSettings

        return LocalSettings
    return {"slurm": SlurmSettings, "ray": RaySettings}.get(backend)


def _check_settings(source: str, field: str, cfg: ExecutorConfig) -> None:
    """Refuse, at load, a setting the backend does not know or a value out of its range, and a
    Ray address nobody answers (a connect check of at most `RAY_CHECK_S`), naming the key."""
    cls = _settings_class(cfg.backend)
    if cls is None:
        if cfg.settings:
            key = sorted(cfg.settings)[0]
            raise InputError(source, f"{field}.{key}", cfg.settings[key],
                             f"the {cfg.backend} backend takes no settings; known: backend")
        return
    try:
        settings = parse_settings(cls, cfg.settings, cfg.backend)
    except InputError as exc:
        key = str(exc.field).split(".", 1)[-1]
        raise InputError(source, f"{field}.{key}", exc.value,
                         f"{exc.problem} (setting {exc.field})") from None
    if isinstance(settings, RaySettings) and settings.address:
        _check_ray_address(source, field, settings)


def _check_ray_address(source: str, field: str, settings: RaySettings) -> None:
    target = ray_host_port(str(settings.address))
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=min(settings.connect_timeout_s,
                                                          RAY_CHECK_S)):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(source, f"{field}.address", settings.address,
                         f"no Ray cluster answers at {target[0]}:{target[1]} ({reason}); "
                         f"start one (ray start --head --port={target[1]}) or give the "
                         "address of a running one, e.g. 127.0.0.1:6379") from None


def _config(source: str, field: str, node: Any) -> ExecutorConfig:
    if not isinstance(node, dict) or not isinstance(node.get("backend"), str):
        raise InputError(source, f"{field}.backend", node,
                         "needs {backend: <name>, ...}, e.g. {backend: local}; backends: "
                         f"{', '.join([NO_EXECUTOR, *BACKENDS])}")
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
    workers = node.get("workers", False)
    if not isinstance(workers, bool):
        raise InputError(source, f"{field}.workers", workers,
                         "must be true (executor workers run its jobs: `suanwang worker`) "
                         "or false (the scheduler's process does)")
    if workers and backend == NO_EXECUTOR:
        raise InputError(source, f"{field}.workers", workers,
                         "a clock binding runs nothing, so no worker serves it; give it a "
                         f"backend ({', '.join(BACKENDS)}) or drop `workers`")
    return ExecutorConfig(backend, {k: v for k, v in node.items()
                                    if k not in ("backend", "workers")}, workers)


def make_executors(configs: dict[str, ExecutorConfig], log_dir: Path
                   ) -> dict[str, Executor | None]:
    """One executor per distinct (backend, settings); sites (and provider bindings) sharing
    one share the object."""
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

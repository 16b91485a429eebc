"""The platform's own routes: /healthz, /metrics (Prometheus), the network's regions and sites
(an operator drains a site or changes its installed units), and the live view (`/v1/live`)."""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, and `Who` /
# `Operator` are local to `mount_network`
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from suanwang.executors.base import BackendUnavailable
from suanwang.model import Kind
from suanwang.service.api_responses import AUTH, OPERATOR, errors, text_body
from suanwang.service.schemas import SitePatch, capacity_errors
from suanwang.service.store import Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

log = logging.getLogger("suanwang.service")


def mount_network(app: FastAPI, service: "Service", tenant: Callable[..., Tenant],
                  operator: Callable[..., Tenant]) -> None:
    settings = service.settings
    Who = Annotated[Tenant, Depends(tenant)]
    Operator = Annotated[Tenant, Depends(operator)]

    # ---- health and metrics ----------------------------------------------------------------

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        clock = service.clock
        return {"status": "ok", "now_s": clock.now_s(), "policy": settings.policy,
                "clock": {"start_utc": clock.start_utc.isoformat(), "speed": clock.speed}}

    @app.get("/metrics", response_model=None, responses=text_body(
        CONTENT_TYPE_LATEST, "The metrics in the Prometheus text format"))
    def metrics() -> Response:
        return Response(generate_latest(service.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    # ---- network -------------------------------------------------------------------------

    @app.get("/v1/regions", responses=errors(AUTH))
    def regions(who: Who) -> list[dict[str, Any]]:
        return [{"id": r.id, "name_zh": r.name_zh, "name_en": r.name_en, "lat": r.lat,
                 "lon": r.lon} for r in service.network.regions]

    def site_out(i: int) -> dict[str, Any]:
        s = service.network.sites[i]
        topo = service.live.topology
        return {"id": s.id, "name_zh": s.name_zh, "name_en": s.name_en, "hub": s.hub_id,
                "province": s.province_en, "lat": s.lat, "lon": s.lon, "pue": s.pue,
                "price_yuan_per_kwh": s.price_yuan_per_kwh, "green_share": s.green_share,
                "drained": s.id in service.live.drained_sites(),
                "healthy": s.id not in service.live.unhealthy,
                "backend": getattr(service.live.executors[s.id], "name", "clock"),
                "pools": [{"kind": topo.pool_kind[p].value,
                           "capacity_units": topo.pool_capacity[p],
                           "pflops_per_unit": topo.pools[p].pflops_per_unit,
                           "kw_per_unit": topo.pools[p].kw_per_unit}
                          for p in range(len(topo.pools)) if topo.pool_site[p] == i]}

    def site_index(site_id: str) -> int:
        ids = [s.id for s in service.network.sites]
        if site_id not in ids:
            raise HTTPException(404, f"no site {site_id}")
        return ids.index(site_id)

    @app.get("/v1/sites", responses=errors(AUTH))
    def sites(who: Who) -> list[dict[str, Any]]:
        return [site_out(i) for i in range(len(service.network.sites))]

    @app.get("/v1/sites/{site_id}", responses=errors(AUTH, 404))
    def site(site_id: str, who: Who) -> dict[str, Any]:
        return site_out(site_index(site_id))

    @app.patch("/v1/sites/{site_id}", responses=errors(OPERATOR, 400, 404, 413, 422, 503))
    def patch_site(site_id: str, body: SitePatch, who: Operator) -> dict[str, Any]:
        """Drain or undrain a site, or set its pools' installed units. A cut below the units
        busy now is applied (running jobs keep their units; nothing new is placed there until
        enough end) and the answer's `warnings` say so."""
        i = site_index(site_id)
        installed = {p.kind: p.units for p in service.network.sites[i].pools}
        errors = capacity_errors(body, installed, site_id)
        if errors:
            raise RequestValidationError(errors)
        busy = {p["kind"]: p["busy_units"] for s in service.live.live_state()[0]["sites"]
                if s["site"] == site_id for p in s["pools"]}
        warnings = [f"capacity_units.{kind} = {units} is below the {busy[kind]} units busy "
                    "now: running jobs keep them; nothing new is placed there until enough end"
                    for kind, units in (body.capacity_units or {}).items()
                    if units < busy.get(kind, 0)]
        try:
            for kind, units in (body.capacity_units or {}).items():
                service.live.set_capacity(site_id, Kind(kind), units)
            if body.drained is not None:
                service.live.drain(site_id, body.drained)
        except BackendUnavailable as exc:  # an API replica whose scheduler did not answer
            raise HTTPException(503, f"site {site_id}: {exc}") from None
        log.info("operator %s changed site %s: %s", who.id, site_id,
                 body.model_dump(exclude_none=True))
        return {**site_out(i), **({"warnings": warnings} if warnings else {})}

    @app.get("/v1/live", responses=errors(AUTH))
    def live(who: Who) -> dict[str, Any]:
        return service.live.live_state()[0]

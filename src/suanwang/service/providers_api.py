"""The providers API (issue 12 item 5): per provider at each site, units, jobs, revenue and
the measured service level beside the promised one (`provider_views`).

- `GET /v1/providers`: every (site, provider), and `national`: one row per provider across
  its sites.
- `GET /v1/providers/{site}/{provider}`: one of them (a provider's id is the same at every
  site it sells at, as in the network file; the pair names one).

The operator sees every figure. A tenant sees the public ones: names, docking, units, the
promised and the measured service level; its `jobs` and `revenue_yuan` are null (they
describe other tenants' business).

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations.)
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path
from pydantic import BaseModel, Field

from suanwang.service.api_responses import AUTH, ErrorOut, errors
from suanwang.service.provider_views import gather
from suanwang.service.store import Tenant

# the form of a site's and a provider's id (network file ids: letters, digits, - _ .)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

if TYPE_CHECKING:
    from suanwang.service.app import Service


class UnitsOut(BaseModel):
    kind: str
    installed_units: int = Field(description="the provider's share of the site's pool")
    offered_units: int = Field(description="units it offers the platform (its quota)")
    busy_units: int = Field(description="units held by placed and running jobs now")


class JobsOut(BaseModel):
    placed: int
    running: int
    finished: int


class PromisedOut(BaseModel):
    availability: float = Field(description="share of time the provider promises to answer")
    start_s: float = Field(description="promised seconds from placement to start")


class MeasuredOut(BaseModel):
    availability: float | None = Field(
        description="share of run time [0, now) its backend answered (health transitions)")
    window_s: float = Field(description="run seconds the availability is measured over")
    down_s: float = Field(description="run seconds its backend was down")
    start_samples: int = Field(description="started jobs measured (placed -> running)")
    start_p50_s: float | None
    start_p95_s: float | None
    start_within_share: float | None = Field(
        description="share of those jobs that started within the promised start_s")


class SlaOut(BaseModel):
    promised: PromisedOut
    measured: MeasuredOut


class ProviderOut(BaseModel):
    id: str = Field(description="site/provider")
    site: str
    provider: str
    name_zh: str
    name_en: str
    docking: str
    executor: str = Field(description="the executor binding of the network file")
    backend: str = Field(description="the backend its site runs on in this deployment")
    healthy: bool
    units: list[UnitsOut]
    jobs: JobsOut | None = Field(description="operator only (null for a tenant)")
    revenue_yuan: float | None = Field(description="sum of its jobs' bills; operator only")
    sla: SlaOut


class NationalPromisedOut(BaseModel):
    availability_min: float
    availability_max: float
    start_s_min: float
    start_s_max: float


class NationalMeasuredOut(BaseModel):
    availability: float | None = Field(description="mean over its sites")
    start_samples: int
    start_p50_s: float | None
    start_p95_s: float | None
    start_within_share: float | None


class NationalSlaOut(BaseModel):
    promised: NationalPromisedOut
    measured: NationalMeasuredOut


class NationalOut(BaseModel):
    provider: str
    name_zh: str
    name_en: str
    sites: list[str]
    units: list[UnitsOut]
    jobs: JobsOut | None
    revenue_yuan: float | None
    sla: NationalSlaOut


class ProvidersOut(BaseModel):
    now_s: float
    providers: list[ProviderOut]
    national: list[NationalOut]


def _public(row: dict[str, Any], operator: bool) -> dict[str, Any]:
    return row if operator else {**row, "jobs": None, "revenue_yuan": None}


def mount_providers(app: FastAPI, service: "Service", tenant: Callable[..., Tenant]) -> None:
    Who = Annotated[Tenant, Depends(tenant)]
    router = APIRouter(prefix="/v1/providers", tags=["providers"])

    @router.get("", response_model=ProvidersOut, responses=errors(AUTH))
    def providers(who: Who) -> dict[str, Any]:
        """Every provider at every site with its units, jobs, revenue and service level
        (promised and measured), and the national view per provider."""
        view = gather(service.network, service.live)
        return {"now_s": view.now_s,
                "providers": [_public(r, who.operator) for r in view.rows],
                "national": [_public(r, who.operator) for r in view.national]}

    @router.get("/{site_id}/{provider_id}", response_model=ProviderOut,
                responses={**errors(AUTH, 422), 404: {
                    "model": ErrorOut,
                    "description": "no such site, or the provider does not sell there"}})
    def provider(site_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)],
                 provider_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)],
                 who: Who) -> dict[str, Any]:
        """One provider at one site."""
        if site_id not in {s.id for s in service.network.sites}:
            raise HTTPException(404, f"no site {site_id}")
        view = gather(service.network, service.live)
        for r in view.rows:
            if r["site"] == site_id and r["provider"] == provider_id:
                return _public(r, who.operator)
        sells = ", ".join(r["provider"] for r in view.rows if r["site"] == site_id)
        raise HTTPException(404, f"provider {provider_id} does not sell at {site_id} "
                                 f"(providers there: {sells})")

    app.include_router(router)

"""Wire formats of the market API (pydantic) and the checks that need the network; every
error is FastAPI's 422 entry with `loc` naming the field and `input` its value."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from suanwang.model import Kind, Network
from suanwang.service.schemas import MAX_DURATION_S, JobIn, ProviderId, validate_against

MAX_LIMIT_YUAN = 1e10


class BidIn(BaseModel):
    """A sealed bid: the job (`units` of `kind` for `duration_s` from region `origin`, with
    `rtt_bound_ms` or `deadline_in_s`, exactly one), and a price limit, exactly one of
    `limit_yuan_per_unit_h` and `limit_total_yuan` (the most the whole job may cost, compute
    and transit of `data_gb`); optionally `carbon_cap_kg` (its location-based CO2) and
    `max_rounds` (the most rounds it bids in; default: until its deadline no longer allows a
    run, or a day of rounds for a bid without a deadline)."""

    model_config = ConfigDict(extra="forbid")
    origin: str = Field(min_length=1, max_length=64, examples=["yrd"])
    kind: Kind
    units: int = Field(ge=1, le=1_000_000, examples=[64])
    duration_s: float = Field(gt=0, le=MAX_DURATION_S, examples=[3600])
    rtt_bound_ms: float | None = Field(default=None, gt=0, le=1000)
    deadline_in_s: float | None = Field(default=None, gt=0, le=365 * 86400.0,
                                        examples=[86400])
    data_gb: float = Field(default=0.0, ge=0, le=1e7)
    workload: str = Field(default="", max_length=64)
    limit_yuan_per_unit_h: float | None = Field(default=None, gt=0, le=1e6, examples=[12.0])
    limit_total_yuan: float | None = Field(default=None, gt=0, le=MAX_LIMIT_YUAN)
    carbon_cap_kg: float | None = Field(default=None, ge=0, le=1e9)
    max_rounds: int | None = Field(default=None, ge=1, le=100_000)


class AskIn(BaseModel):
    """A provider's ask at one site for one kind: `units` offered for the next round at no
    less than `reserve_yuan_per_unit_h`."""

    model_config = ConfigDict(extra="forbid")
    provider: ProviderId
    site: str = Field(min_length=1, max_length=64)
    kind: Kind
    reserve_yuan_per_unit_h: float = Field(ge=0, le=1e6)
    units: int = Field(ge=1, le=10_000_000)


def _err(field: str, value: Any, msg: str) -> dict[str, Any]:
    return {"loc": ["body", field], "input": value, "type": "value_error",
            "msg": f"{field} = {value!r}: {msg}"}


def bid_errors(bid: BidIn, network: Network) -> list[dict[str, Any]]:
    """What pydantic cannot tell: one of each pair, a deadline shorter than the run, and
    (as for a submission) an unknown region, a job larger than every pool, a bound no site
    meets."""
    errors: list[dict[str, Any]] = []
    if (bid.rtt_bound_ms is None) == (bid.deadline_in_s is None):
        errors.append(_err("rtt_bound_ms", bid.rtt_bound_ms,
                           "give exactly one of rtt_bound_ms (real-time) and deadline_in_s "
                           f"(deferrable); deadline_in_s = {bid.deadline_in_s!r}"))
    if bid.deadline_in_s is not None and bid.deadline_in_s < bid.duration_s:
        errors.append(_err("deadline_in_s", bid.deadline_in_s,
                           f"shorter than duration_s = {bid.duration_s:g}: the job cannot "
                           "finish in time"))
    if (bid.limit_yuan_per_unit_h is None) == (bid.limit_total_yuan is None):
        errors.append(_err("limit_yuan_per_unit_h", bid.limit_yuan_per_unit_h,
                           "give exactly one of limit_yuan_per_unit_h and limit_total_yuan; "
                           f"limit_total_yuan = {bid.limit_total_yuan!r}"))
    if errors:
        return errors
    job = JobIn.model_construct(origin=bid.origin, kind=bid.kind, units=bid.units,
                                rtt_bound_ms=bid.rtt_bound_ms, providers_allow=[],
                                providers_deny=[], providers_prefer=[])
    return validate_against(job, network)


def ask_errors(ask: AskIn, network: Network) -> list[dict[str, Any]]:
    """An unknown site, a provider not at it, a kind it sells none of there, more units than
    its quota."""
    sites = {s.id: s for s in network.sites}
    site = sites.get(ask.site)
    if site is None:
        return [_err("site", ask.site, f"unknown site; known: {', '.join(sites)}")]
    prov = site.provider(ask.provider)
    if prov is None:
        return [_err("provider", ask.provider, f"no such provider at {ask.site}; known: "
                                               f"{', '.join(p.id for p in site.providers)}")]
    offered = prov.offered(ask.kind)
    if offered <= 0:
        return [_err("kind", ask.kind.value,
                     f"{ask.provider} sells no {ask.kind.value} units at {ask.site}")]
    if ask.units > offered:
        return [_err("units", ask.units, f"more than {ask.provider}'s quota at {ask.site} "
                                         f"({offered} {ask.kind.value} units)")]
    return []

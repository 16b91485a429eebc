"""Wire formats of the HTTP API (pydantic). Validation that needs the network (known regions,
reachable latency bounds, pool sizes) happens in `validate_against`, so that a 422 names the
field and the value either way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from suanwang.market.billing import POSTED_ROUND
from suanwang.model import Kind, Network
from suanwang.service.store import JobSpec
from suanwang.service.templates import JobTemplate

MAX_DURATION_S = 90 * 86400.0
MAX_BATCH = 10_000
MAX_PROVIDERS_LISTED = 32
# a provider id as network files write them ("ctyun", "huawei", "scnet-horinger")
ProviderId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class JobIn(BaseModel):
    """A job to run: `units` of `kind` for `duration_s`, from region `origin`. Real-time jobs
    give `rtt_bound_ms`; non-real-time jobs give `deadline_in_s` (seconds after submission by
    which the job should end). Exactly one of the two."""

    model_config = ConfigDict(extra="forbid")
    origin: str = Field(min_length=1, max_length=64, examples=["bth"])
    kind: Kind
    units: int = Field(ge=1, examples=[8])
    duration_s: float = Field(gt=0, le=MAX_DURATION_S, examples=[3600])
    rtt_bound_ms: float | None = Field(default=None, gt=0, le=1000, examples=[20])
    deadline_in_s: float | None = Field(default=None, gt=0, le=365 * 86400.0)
    data_gb: float = Field(default=0.0, ge=0, le=1e7)
    workload: str = Field(default="", max_length=64)
    command: list[str] | None = Field(
        default=None, min_length=1, max_length=256,
        description="What to run on the site's engine; default: a sleep of the job's "
                    "duration. A tenant may give one only where the service runs with "
                    "--allow-tenant-commands (else 422); see `template`")
    env: dict[str, str] | None = Field(
        default=None, max_length=256,
        description="Added to the job's scrubbed environment (as `command`: tenants only "
                    "with --allow-tenant-commands)")
    workdir: str | None = Field(
        default=None, max_length=500,
        description="Working directory; default: one of the job's own (as `command`)")
    max_retries: int = Field(default=0, ge=0, le=5,
                             description="Run again up to this many times if it fails")
    template: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="One of the operator's job templates (GET /v1/templates) to run instead "
                    "of a command")
    max_price_yuan_per_unit_h: float | None = Field(
        default=None, gt=0, le=1e6, examples=[12.0],
        description="Only providers whose price over the run is at most this many yuan per "
                    "unit-hour")
    max_bill_yuan: float | None = Field(
        default=None, gt=0, le=1e10, examples=[500.0],
        description="Only placements whose expected bill (compute plus egress of data_gb) "
                    "is at most this many yuan; the bill actually charged follows the price "
                    "items in force while the job runs")
    providers_allow: list[ProviderId] = Field(
        default_factory=list, max_length=MAX_PROVIDERS_LISTED,
        description="Only these providers (empty: any)")
    providers_deny: list[ProviderId] = Field(
        default_factory=list, max_length=MAX_PROVIDERS_LISTED,
        description="Never these providers")
    providers_prefer: list[ProviderId] = Field(
        default_factory=list, max_length=MAX_PROVIDERS_LISTED, examples=[["huawei"]],
        description="These providers first, in this order; overflow goes to the policy's "
                    "choice among the others")
    accept_posted_price: bool = Field(
        default=False,
        description="Accept the posted price (GET /v1/market/prices): the job is placed as "
                    "any other, and billed at the posted prices of its site, provider, kind "
                    "and hours as posted when it is placed (plus egress) instead of the "
                    "price items; its account holds (1 + alpha) x the list worst case until "
                    "then. Not with max_bill_yuan (which caps a bill at list prices)")

    @model_validator(mode="after")
    def _one_latency_class(self) -> JobIn:
        if (self.rtt_bound_ms is None) == (self.deadline_in_s is None):
            raise ValueError("give exactly one of rtt_bound_ms (real-time) and deadline_in_s "
                             "(non-real-time)")
        if self.deadline_in_s is not None and self.deadline_in_s < self.duration_s:
            raise ValueError(f"deadline_in_s = {self.deadline_in_s:g} is shorter than "
                             f"duration_s = {self.duration_s:g}: the job cannot finish in time")
        if self.template is not None and self.command is not None:
            raise ValueError("give command or template, not both")
        for name in ("providers_allow", "providers_deny", "providers_prefer"):
            ids = getattr(self, name)
            twice = sorted({x for x in ids if ids.count(x) > 1})
            if twice:
                raise ValueError(f"{name} lists {', '.join(twice)} more than once")
        if self.accept_posted_price and self.max_bill_yuan is not None:
            raise ValueError("accept_posted_price = true with max_bill_yuan: a job accepting "
                             "the posted price is billed at it; leave max_bill_yuan out")
        both = sorted(set(self.providers_allow) & set(self.providers_deny))
        if both:
            raise ValueError(f"providers_allow and providers_deny both list {', '.join(both)}")
        return self

    def to_spec(self, templates: Mapping[str, JobTemplate] | None = None) -> JobSpec:
        """The submission to keep; a template's command and environment are filled in (the
        job runs what the template said when it was submitted)."""
        command, env = self.command, self.env
        if self.template is not None and templates is not None:
            t = templates[self.template]
            command, env = list(t.command), {**t.env, **(self.env or {})}
        return JobSpec(origin=self.origin, kind=self.kind, units=self.units,
                       duration_s=self.duration_s, rtt_bound_ms=self.rtt_bound_ms,
                       deadline_in_s=self.deadline_in_s, data_gb=self.data_gb,
                       workload=self.workload or (self.template or ""), command=command,
                       env=env, workdir=self.workdir, max_retries=self.max_retries,
                       max_price_yuan_per_unit_h=self.max_price_yuan_per_unit_h,
                       max_bill_yuan=self.max_bill_yuan,
                       providers_allow=tuple(self.providers_allow),
                       providers_deny=tuple(self.providers_deny),
                       providers_prefer=tuple(self.providers_prefer),
                       market_round=POSTED_ROUND if self.accept_posted_price else None)


TENANT_COMMAND_FIELDS = ("command", "env", "workdir")


def validate_run_policy(job: JobIn, templates: Mapping[str, JobTemplate],
                        tenant_commands: bool, loc: tuple[Any, ...] = ("body",)
                        ) -> list[dict[str, Any]]:
    """Errors (FastAPI's 422 format) for what a tenant may not run: a command, environment or
    working directory of its own unless the service allows tenant commands, an unknown
    template. (The operator's token may give commands.)"""
    errors: list[dict[str, Any]] = []
    names = ", ".join(templates) or "none defined"
    if job.template is not None and job.template not in templates:
        errors.append({"loc": [*loc, "template"], "input": job.template, "type": "value_error",
                       "msg": f"unknown job template; known: {names}"})
    if not tenant_commands:
        for name in TENANT_COMMAND_FIELDS:
            value = getattr(job, name)
            if value is not None:
                errors.append({
                    "loc": [*loc, name], "input": value, "type": "value_error",
                    "msg": f"this service runs no tenant {name}s: leave it out (the job "
                           f"runs a sleep of its duration) or name a template ({names}); "
                           "the operator allows them with --allow-tenant-commands"})
    return errors


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: list[JobIn] = Field(min_length=1, max_length=MAX_BATCH)


def validate_against(job: JobIn, network: Network, loc: tuple[Any, ...] = ("body",)
                     ) -> list[dict[str, Any]]:
    """Errors (in FastAPI's 422 format) that only the network can tell: an unknown origin, a
    job bigger than every pool of its kind, a latency bound no site can meet."""
    errors: list[dict[str, Any]] = []
    known = network.provider_ids()
    for name in ("providers_allow", "providers_deny", "providers_prefer"):
        for k, pid in enumerate(getattr(job, name)):
            if pid not in known:
                errors.append({"loc": [*loc, name, k], "input": pid, "type": "value_error",
                               "msg": f"{name}[{k}] = {pid!r}: unknown provider; known: "
                                      f"{', '.join(known)}"})
    regions = [r.id for r in network.regions]
    if job.origin not in regions:
        errors.append({"loc": [*loc, "origin"], "input": job.origin, "type": "value_error",
                       "msg": f"unknown region; known: {', '.join(regions)}"})
        return errors
    pools = [(s, p) for s in network.sites for p in s.pools if p.kind == job.kind]
    if not pools:
        errors.append({"loc": [*loc, "kind"], "input": job.kind.value, "type": "value_error",
                       "msg": "no site has a pool of this kind"})
        return errors
    largest = max(p.units for _, p in pools)
    if job.units > largest:
        errors.append({"loc": [*loc, "units"], "input": job.units, "type": "value_error",
                       "msg": f"larger than the largest {job.kind.value} pool ({largest})"})
    if job.rtt_bound_ms is not None:
        nearest = min(network.rtt_ms[(job.origin, s.id)] for s, _ in pools)
        if job.rtt_bound_ms < nearest:
            errors.append({"loc": [*loc, "rtt_bound_ms"], "input": job.rtt_bound_ms,
                           "type": "value_error",
                           "msg": f"impossible: the nearest {job.kind.value} site is "
                                  f"{nearest:g} ms from {job.origin}"})
    return errors


# a pool may be set to at most this many times the units the network file installs there
MAX_CAPACITY_FACTOR = 100


class SitePatch(BaseModel):
    """Operator changes to a site: drain or undrain it, set a pool's installed units (whole
    numbers from 0 to MAX_CAPACITY_FACTOR times the installed units; the bound needs the network
    and is checked by `capacity_errors`)."""

    model_config = ConfigDict(extra="forbid")
    drained: bool | None = None
    capacity_units: dict[str, Any] | None = Field(
        default=None, examples=[{"intelligent": 1200}],
        description="units per pool kind (general, intelligent, hpc); kinds left out stay")


def capacity_errors(patch: SitePatch, installed: dict[Kind, int], site_id: str
                    ) -> list[dict[str, Any]]:
    """Errors (FastAPI's 422 format, each naming the field and the value) in a patch's
    capacity_units, given the units the network installs per kind at the site: an unknown
    kind, a kind the site has no pool of, a value that is not a whole number, negative, or
    above MAX_CAPACITY_FACTOR times the installed units."""
    errors: list[dict[str, Any]] = []
    kinds = ", ".join(k.value for k in installed)
    for name, value in (patch.capacity_units or {}).items():
        problem = ""
        kind = next((k for k in Kind if k.value == name), None)
        if kind is None:
            problem = f"unknown kind; this site has {kinds}"
        elif kind not in installed:
            problem = f"site {site_id} has no {name} pool; it has {kinds}"
        elif isinstance(value, bool) or not isinstance(value, int):
            problem = "must be a whole number of units"
        elif value < 0:
            problem = "must be >= 0"
        elif value > MAX_CAPACITY_FACTOR * max(installed[kind], 1):
            problem = (f"must be <= {MAX_CAPACITY_FACTOR * max(installed[kind], 1)} "
                       f"({MAX_CAPACITY_FACTOR} x the {installed[kind]} installed units)")
        if problem:
            errors.append({"loc": ["body", "capacity_units", name], "input": value,
                           "type": "value_error",
                           "msg": f"capacity_units.{name} = {value!r}: {problem}"})
    return errors

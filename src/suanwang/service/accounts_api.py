"""The accounts API (issue 12 item 3): operators open tenants' accounts, top up balances and
set limits; the operator and the tenant itself read the account and its record of changes.

- `POST /v1/accounts`: open an account (a tenant not known yet is created, and its token is
  in the answer, once);
- `GET /v1/accounts`: every account (operator);
- `GET /v1/accounts/{tenant}`: balance, held, available, limits and this month's use;
- `POST /v1/accounts/{tenant}/top-ups`: add to the balance;
- `PUT /v1/accounts/{tenant}/limits`: replace the limits;
- `GET /v1/accounts/{tenant}/entries`: every change, oldest first, paged by `cursor`.

The checks themselves happen at submission (`jobs_api`: 402 when the balance is short, 409
when a quota or the carbon budget is spent, each naming the limit and by how much).

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations.)
"""

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from suanwang.accounts.account import LOCATION, Limits, month_of
from suanwang.model import Kind
from suanwang.service.account_store import AccountExists, NoAccount
from suanwang.service.api_responses import AUTH, MAX_INT64, OPERATOR, errors
from suanwang.service.providers_api import ID_PATTERN
from suanwang.service.store import Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

KindName = Literal["general", "intelligent", "hpc"]
MAX_YUAN = 1e12


def _a_number(value: Any) -> Any:
    """JSON numbers only (JSON Schema's `number` and `integer`): not true/false, not text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {value!r}")
    return value


Number = BeforeValidator(_a_number)
UnitCount = Annotated[int, Field(ge=0, le=2**31 - 1), Number]
UnitHours = Annotated[float, Field(ge=0, le=1e12), Number]
CarbonKg = Annotated[float, Field(ge=0, le=1e12), Number]
BalanceYuan = Annotated[float, Field(ge=0, le=MAX_YUAN), Number]
TopUpYuan = Annotated[float, Field(gt=0, le=MAX_YUAN), Number]
TenantId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]


class LimitsIn(BaseModel):
    """A tenant's limits; a limit left out is no limit."""

    model_config = ConfigDict(extra="forbid")
    units_at_once: dict[KindName, UnitCount] = Field(
        default_factory=dict, description="units its placed and waiting jobs may hold at "
                                          "once, per kind", examples=[{"intelligent": 64}])
    unit_h_per_month: dict[KindName, UnitHours] = Field(
        default_factory=dict, description="unit-hours per calendar month (China time), per "
                                          "kind", examples=[{"intelligent": 10000}])
    carbon_kg_per_month: CarbonKg | None = Field(
        default=None,
        description="kg CO2 per calendar month")
    carbon_basis: Literal["location", "market"] = Field(
        default=LOCATION, description="which count the carbon budget binds: location-based "
                                      "(the grid's factor) or market-based (net of green "
                                      "power); both are always recorded")

    def to_limits(self) -> Limits:
        return Limits(
            units_at_once=tuple(sorted((Kind(k), v) for k, v in self.units_at_once.items())),
            unit_h_per_month=tuple(sorted((Kind(k), v)
                                          for k, v in self.unit_h_per_month.items())),
            carbon_kg_per_month=self.carbon_kg_per_month, carbon_basis=self.carbon_basis)


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN, examples=["acme"])
    balance_yuan: BalanceYuan = Field(default=0.0,
                                description="the prepaid balance it starts with")
    limits: LimitsIn = Field(default_factory=LimitsIn)


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    yuan: TopUpYuan = Field(examples=[1000])
    note: str = Field(default="", max_length=500, description="e.g. the payment's reference")


class UsageOut(BaseModel):
    units_now: dict[str, int] = Field(description="units held by its jobs now, per kind")
    unit_h: dict[str, float] = Field(description="unit-hours this month: settled plus held")
    carbon_kg: dict[str, float] = Field(
        description="kg CO2 this month on each basis (settled; the budget's basis adds the "
                    "expected carbon of jobs still holding)")


class AccountOut(BaseModel):
    tenant: str
    balance_yuan: float
    held_yuan: float = Field(description="worst-case bills held by jobs not yet ended")
    available_yuan: float = Field(description="balance - held: what new jobs may hold")
    jobs_holding: int
    limits: dict[str, Any]
    month: str = Field(description="the month `usage` counts (YYYY-MM, China time)")
    usage: UsageOut
    token: str | None = Field(default=None, description="a new tenant's token (shown once)")


class EntryOut(BaseModel):
    id: int
    at_s: float = Field(description="run-clock seconds")
    what: str = Field(description="open | top_up | limits | hold | settle | release")
    yuan: float = Field(description="change of the balance (settle: minus the bill)")
    balance_yuan: float = Field(description="the balance after it")
    job_id: str
    by: str = Field(description="the operator who made the change (empty: the service)")
    note: str


class EntriesOut(BaseModel):
    entries: list[EntryOut]
    next_cursor: int | None


def mount_accounts(app: FastAPI, service: "Service", tenant: Callable[..., Tenant],
                   operator: Callable[..., Tenant]) -> None:
    Who = Annotated[Tenant, Depends(tenant)]
    Operator = Annotated[Tenant, Depends(operator)]
    accounts = service.store.accounts
    router = APIRouter(tags=["accounts"])

    def month_now() -> str:
        return month_of(service.clock.now_utc())

    def view(tenant_id: str, who: Tenant) -> dict[str, Any]:
        if not who.operator and who.id != tenant_id:
            raise HTTPException(404, f"no account {tenant_id}")
        got = accounts.view(tenant_id, month_now())
        if got is None:
            raise HTTPException(404, f"no account {tenant_id}")
        return got

    @router.post("/v1/accounts", status_code=201, response_model=AccountOut,
                 responses=errors(OPERATOR, 400, 409, 413, 422))
    def open_account(body: AccountIn, who: Operator) -> dict[str, Any]:
        """Open a tenant's account. A tenant the service does not know yet is created with a
        new token, given in the answer once (keep it: only its hash is stored)."""
        token = None
        known = service.store.tenant_by_id(body.tenant)
        if known is not None and known.operator:
            raise HTTPException(409, f"{body.tenant} is an operator, not a tenant")
        if known is None:
            token = secrets.token_urlsafe(24)
            service.store.ensure_tenant(body.tenant, "tenant", token)
        try:
            accounts.open(body.tenant, body.balance_yuan, body.limits.to_limits(),
                          service.clock.now_s(), who.id)
        except AccountExists as exc:
            raise HTTPException(409, str(exc)) from None
        return {**view(body.tenant, who), "token": token}

    @router.get("/v1/accounts", response_model=list[AccountOut], responses=errors(OPERATOR))
    def list_accounts(who: Operator) -> list[dict[str, Any]]:
        month = month_now()
        return [v for t in accounts.tenants() if (v := accounts.view(t, month)) is not None]

    @router.get("/v1/accounts/{tenant_id}", response_model=AccountOut,
                responses=errors(AUTH, 404, 422))
    def get_account(tenant_id: TenantId, who: Who) -> dict[str, Any]:
        """The account now (a tenant may read only its own)."""
        return view(tenant_id, who)

    @router.post("/v1/accounts/{tenant_id}/top-ups", response_model=AccountOut,
                 responses=errors(OPERATOR, 400, 404, 413, 422))
    def top_up(tenant_id: TenantId, body: TopUpIn, who: Operator) -> dict[str, Any]:
        try:
            accounts.top_up(tenant_id, body.yuan, service.clock.now_s(), who.id, body.note)
        except NoAccount:
            raise HTTPException(404, f"no account {tenant_id}") from None
        return view(tenant_id, who)

    @router.put("/v1/accounts/{tenant_id}/limits", response_model=AccountOut,
                responses=errors(OPERATOR, 400, 404, 413, 422))
    def set_limits(tenant_id: TenantId, body: LimitsIn, who: Operator) -> dict[str, Any]:
        """Replace the limits (jobs already accepted keep their holds)."""
        try:
            accounts.set_limits(tenant_id, body.to_limits(), service.clock.now_s(), who.id)
        except NoAccount:
            raise HTTPException(404, f"no account {tenant_id}") from None
        return view(tenant_id, who)

    @router.get("/v1/accounts/{tenant_id}/entries", response_model=EntriesOut,
                responses=errors(AUTH, 404, 422))
    def entries(tenant_id: TenantId, who: Who,
                cursor: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """The account's changes, oldest first; pass `next_cursor` back as `cursor`."""
        view(tenant_id, who)
        rows = accounts.entries(tenant_id, cursor, limit)
        return {"entries": rows, "next_cursor": rows[-1]["id"] if len(rows) == limit else None}

    app.include_router(router)

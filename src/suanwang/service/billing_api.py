"""Invoices and revenue statements over HTTP (issue 12 item 4; `invoice_views` builds them).

- `GET /v1/invoices/{tenant}/{month}` (`format=json|csv|html`, `lang=zh|en`): a tenant's
  monthly invoice (the month still running is a draft); a tenant reads only its own.
- `GET /v1/providers/{provider}/statements/{month}` (operator): a provider's revenue through
  the platform in that month, by site and kind, and by tenant.

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations.)
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response

from suanwang.pricing.focus import parse_month
from suanwang.service.api_responses import AUTH, OPERATOR, errors
from suanwang.service.invoice_views import (
    invoice,
    invoice_csv,
    invoice_html,
    provider_statement,
)
from suanwang.service.providers_api import ID_PATTERN
from suanwang.service.store import Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

# a calendar month of this century (the platform bills nothing earlier or later)
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, Path(pattern=MONTH_PATTERN, examples=["2026-12"],
                            description="a calendar month, YYYY-MM (China time)")]
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]


def _month_checked(month: str) -> None:
    try:
        parse_month(month)
    except ValueError as exc:
        raise RequestValidationError([{"loc": ["path", "month"], "msg": str(exc),
                                       "type": "value_error", "input": month}]) from None


def mount_billing(app: FastAPI, service: "Service", tenant: Callable[..., Tenant],
                  operator: Callable[..., Tenant]) -> None:
    Who = Annotated[Tenant, Depends(tenant)]
    Operator = Annotated[Tenant, Depends(operator)]
    router = APIRouter(tags=["billing"])

    @router.get("/v1/invoices/{tenant_id}/{month}", response_model=None, responses={
        200: {"description": "The invoice: JSON, or (format=csv) its FOCUS lines, or "
                             "(format=html) its page in `lang`",
              "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}},
                          "text/html": {"schema": {"type": "string"}}}},
        **errors(AUTH, 404, 422)})
    def get_invoice(tenant_id: Id, month: Month, who: Who,
                    format: Literal["json", "csv", "html"] = "json",
                    lang: Literal["zh", "en"] = "zh") -> Any:
        """A tenant's invoice of one month: every charged job's lines in that month, one per
        job, ledger hour and unit price, plus egress; in the FOCUS columns."""
        if not who.operator and who.id != tenant_id:
            raise HTTPException(404, f"no invoice of {tenant_id}")
        if service.store.tenant_by_id(tenant_id) is None:
            raise HTTPException(404, f"no tenant {tenant_id}")
        _month_checked(month)
        inv = invoice(service.live, tenant_id, month)
        if format == "csv":
            return Response(invoice_csv(inv), media_type="text/csv", headers={
                "Content-Disposition": f'attachment; filename="{tenant_id}_{month}.csv"'})
        if format == "html":
            return HTMLResponse(invoice_html(inv, lang))
        return inv

    @router.get("/v1/providers/{provider}/statements/{month}",
                responses=errors(OPERATOR, 404, 422))
    def statement(provider: Id, month: Month, who: Operator) -> dict[str, Any]:
        """A provider's revenue statement of one month (all its sites)."""
        known = {p.id for s in service.network.sites for p in s.providers}
        if provider not in known:
            raise HTTPException(404, f"no provider {provider}")
        _month_checked(month)
        return provider_statement(service.live, provider, month)

    app.include_router(router)

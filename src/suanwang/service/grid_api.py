"""The grid events API (issue 14): a grid operator (the `grid` role) or the platform's
operator posts, lists, reads and cancels grid events; reads their reports and the day-ahead
flexibility curve.

- `POST /v1/grid/events`: an event (shed | cap | fill; a site, sites, a province or a hub; a
  window; target_kw or target_share; price and penalty per kWh; its source). Checked by the
  simulator's rules (`grid.events_file.parse_events`, `grid.event`): an unknown site, province
  or hub, a window in the past, a negative target... is a 422 naming the field and value.
  Stored, then the scheduler freezes its baseline and applies it (`grid_live`) before the
  answer (an API replica: once the leader has; if it does not answer in time, 503 and the
  event is applied when one leads);
- `GET /v1/grid/events`, `GET /v1/grid/events/{id}`: the events, their state, the frozen
  baseline (plan) and, once settled, the settlement;
- `DELETE /v1/grid/events/{id}`: cancel before its start (409 once started);
- `GET /v1/grid/events/{id}/report?lang=zh|en&format=json|html`: the settlement report;
- `GET /v1/grid/reports/{YYYY-MM}?lang=&format=`: the events starting in that month (China
  time) and their totals;
- `GET /v1/grid/flexibility?site=&hours=`: per site and hour ahead, the kW that could be shed
  or added and for how long (`grid_flex`).

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations.)
"""

import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from suanwang.errors import InputError
from suanwang.executors.base import BackendUnavailable
from suanwang.grid.events_file import parse_events
from suanwang.service.api_responses import errors, json_or_text_body
from suanwang.service.grid_flex import MAX_HOURS
from suanwang.service.grid_live import new_row
from suanwang.service.grid_report import event_html, event_report, month_html, month_report
from suanwang.service.grid_store import NOTIFIED, POSTED, GridEventExists, row_view
from suanwang.service.providers_api import ID_PATTERN
from suanwang.service.store import Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

log = logging.getLogger("suanwang.service")
GRID_ROLE = "grid"  # a grid operator's token: grid events only
GRID_AUTH = (401, 403)
EventId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=64)]


class GridEventIn(BaseModel):
    """A grid event. Name exactly one of site, sites, province, hub; give exactly one of
    target_kw and target_share. Numbers are checked by the simulator's rules (>= 0; a share
    of a shed or cap at most 1)."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=ID_PATTERN,
                           description="unique; made up if left out")
    kind: Literal["shed", "cap", "fill"] = Field(
        description="shed 削峰: reduce power by the target below the baseline; cap 有序用电: a "
                    "hard ceiling; fill 消纳: raise power by the target")
    site: Name | None = None
    sites: list[Name] | None = Field(default=None, max_length=1000)
    province: Name | None = None
    hub: Name | None = None
    start: str = Field(max_length=64, examples=["2024-06-03T13:00:00+08:00"],
                       description="with its UTC offset; not before now")
    end: str = Field(max_length=64, examples=["2024-06-03T17:00:00+08:00"])
    target_kw: float | None = Field(default=None, description="kW of facility power")
    target_share: float | None = Field(default=None, description="a share of the baseline")
    price_yuan_per_kwh: float = 0.0
    penalty_yuan_per_kwh: float = 0.0
    source: str = Field(min_length=1, max_length=500, description="who asks, or the document")
    assumption: str = Field(default="", max_length=2000)


def _loc(field: str) -> list[str | int]:
    """"sites[1]" -> ["sites", 1]."""
    out: list[str | int] = []
    for part in field.split("."):
        name, _, rest = part.partition("[")
        out.append(name)
        out.extend(int(i) for i in rest.replace("]", "[").split("[") if i.isdigit())
    return out


def _issue(field: str, value: Any, problem: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ["body", *_loc(field)], "input": value,
                                    "type": "value_error",
                                    "msg": f"{field} = {value!r}: {problem}"}])


def plan_warnings(v: dict[str, Any]) -> list[str]:
    """What the frozen baseline says the event cannot get: a shed beyond the baseline (the
    site cannot draw less than nothing), a cap above it (nothing to deliver)."""
    out = []
    for sp in (v.get("plan") or {}).get("sites", []):
        base, req = sp["baseline_kw"], sp["requested_kw"]
        short = [i for i, (b, r) in enumerate(zip(base, req, strict=True)) if r > b + 1e-9]
        if v["kind"] == "shed" and short:
            out.append(f"{sp['site_id']}: the shed asks more than the baseline in "
                       f"{len(short)} of {len(base)} intervals (baseline at most "
                       f"{max(base):,.1f} kW): the rest cannot be delivered")
        if v["kind"] == "cap" and not any(r > 0 for r in req):
            out.append(f"{sp['site_id']}: the cap is at or above the baseline throughout "
                       f"(at most {max(base):,.1f} kW): nothing to deliver")
    return out


def mount_grid(app: FastAPI, service: "Service", tenant: Callable[..., Tenant]) -> None:
    def grid_operator(who: Annotated[Tenant, Depends(tenant)]) -> Tenant:
        if not (who.operator or who.role == GRID_ROLE):
            raise HTTPException(403, "this needs the operator or the grid role")
        return who

    Grid = Annotated[Tenant, Depends(grid_operator)]
    store = service.store.grid
    router = APIRouter(tags=["grid"])

    def view(event_id: str) -> dict[str, Any]:
        row = store.get(event_id)
        if row is None:
            raise HTTPException(404, f"no grid event {event_id}")
        return row_view(row)

    @router.post("/v1/grid/events", status_code=201,
                 responses=errors(GRID_AUTH, 400, 409, 413, 422, 503))
    def post_event(body: GridEventIn, who: Grid) -> dict[str, Any]:
        """Post a grid event: validated, stored, its baseline frozen and its ceilings or fill
        levels applied by the scheduler before the answer."""
        item = body.model_dump(exclude_none=True)
        item.setdefault("id", f"ge-{secrets.token_hex(4)}")
        now_utc = service.clock.now_utc()
        try:
            event = parse_events({"events": [item]}, service.network, "grid event",
                                 not_before=now_utc)[0]
        except InputError as exc:
            field = (exc.field or "body").removeprefix("events[0].")
            raise _issue(field, exc.value, exc.problem) from None
        if event.start < now_utc:
            raise _issue("start", event.start.isoformat(),
                         f"the window has begun (now is {now_utc.isoformat()}); an event is "
                         "posted before its start")
        try:
            store.add(new_row(event, service.clock.start_utc, who.id, service.clock.now_s()))
        except GridEventExists as exc:
            raise HTTPException(409, str(exc)) from None
        try:
            service.live.grid_notify(event.id)
        except BackendUnavailable as exc:
            raise HTTPException(503, f"grid event {event.id} stored: {exc}") from None
        service.metrics.grid_events.labels(event.kind.value).inc()
        log.info("grid event %s posted by %s", event.id, who.id)
        out = view(event.id)
        warnings = plan_warnings(out)
        return {**out, "warnings": warnings} if warnings else out

    @router.get("/v1/grid/events", responses=errors(GRID_AUTH, 422))
    def list_events(who: Grid, state: Literal["posted", "notified", "cancelled",
                                              "settled"] | None = None,
                    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None
                    ) -> list[dict[str, Any]]:
        return [row_view(r) for r in store.list(state, month)]

    @router.get("/v1/grid/events/{event_id}", responses=errors(GRID_AUTH, 404, 422))
    def get_event(event_id: EventId, who: Grid) -> dict[str, Any]:
        return view(event_id)

    @router.delete("/v1/grid/events/{event_id}", responses=errors(GRID_AUTH, 404, 409, 422,
                                                                  503))
    def cancel_event(event_id: EventId, who: Grid) -> dict[str, Any]:
        """Cancel an event before its start: its ceilings leave the calendar."""
        current = view(event_id)
        if current["state"] not in (POSTED, NOTIFIED):
            raise HTTPException(409, f"grid event {event_id} is {current['state']}")
        try:
            done = service.live.grid_cancel(event_id)
        except BackendUnavailable as exc:
            raise HTTPException(503, f"grid event {event_id}: {exc}") from None
        if not done:
            raise HTTPException(409, f"grid event {event_id} has started (at run second "
                                     f"{current['start_s']:,.0f}); it can no longer be "
                                     "cancelled")
        log.info("grid event %s cancelled by %s", event_id, who.id)
        return view(event_id)

    @router.get("/v1/grid/events/{event_id}/report", response_model=None,
                responses={**json_or_text_body("text/html", "The settlement report: JSON, or "
                                                            "(format=html) a page in `lang`"),
                           **errors(GRID_AUTH, 404, 409, 422)})
    def report(event_id: EventId, who: Grid, lang: Literal["zh", "en"] = "zh",
               format: Literal["json", "html"] = "json") -> Any:
        v = view(event_id)
        if v["settlement"] is None:
            raise HTTPException(409, f"grid event {event_id} is {v['state']}: settled after "
                                     f"its window ends (run second {v['end_s']:,.0f})")
        return HTMLResponse(event_html(v, lang)) if format == "html" else event_report(v)

    @router.get("/v1/grid/reports/{month}", response_model=None,
                responses={**json_or_text_body("text/html", "The month's events and totals"),
                           **errors(GRID_AUTH, 422)})
    def monthly(month: Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")], who: Grid,
                lang: Literal["zh", "en"] = "zh",
                format: Literal["json", "html"] = "json") -> Any:
        """The grid events starting in `month` (YYYY-MM, China time) and their totals."""
        views = [row_view(r) for r in store.list(month=month)]
        return HTMLResponse(month_html(month, views, lang)) if format == "html" \
            else month_report(month, views)

    @router.get("/v1/grid/flexibility", responses=errors(GRID_AUTH, 404, 422, 503))
    def flexibility(who: Grid, site: Annotated[str | None, Query(max_length=64)] = None,
                    hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24) -> dict[str, Any]:
        """Per site and hour from the next whole hour: the kW the known work could shed or
        add, and for how long (see README, "Grid events in the live service")."""
        if site is not None and site not in {s.id for s in service.network.sites}:
            raise HTTPException(404, f"no site {site}")
        try:
            return service.live.grid_flexibility(site, hours)
        except BackendUnavailable as exc:
            raise HTTPException(503, str(exc)) from None

    app.include_router(router)

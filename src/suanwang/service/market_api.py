"""The market API (issue 13): tenants' bids, providers' asks, cleared rounds, posted prices.

- `POST /v1/market/bids` (any token): a sealed bid for the next round; held on the tenant's
  account like a submission (402 balance, 409 quota or carbon budget);
- `GET /v1/market/bids[/{id}]`: a tenant's own bids (the operator's: all), with their state
  and the rounds they were in; `DELETE /v1/market/bids/{id}`: cancel an open bid (its hold
  released);
- `POST /v1/market/asks` (operator, who posts for the providers: they have no tokens of their
  own) and `GET /v1/market/asks` (operator: asks are sealed too): the open asks (slices
  without one ask at their floor);
- `GET /v1/market/rounds[/{id}]`: the cleared rounds (a tenant sees the markets' prices and
  volumes, and only its own bids among the matched and unmatched);
- `GET /v1/market/prices`: posted prices per (site, provider, kind, hour).

(No `from __future__ import annotations`: FastAPI resolves the routes' annotations.)
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError

from suanwang.accounts.account import month_of
from suanwang.model import Job
from suanwang.service.account_needs import Need
from suanwang.service.account_store import AccountRefused, Admission
from suanwang.service.api_responses import AUTH, LIMIT_ERRORS, MAX_INT32, OPERATOR, errors
from suanwang.service.jobs_api import json_response
from suanwang.service.market_desk import ROUND_S, round_id_of, round_no_at
from suanwang.service.market_schemas import AskIn, BidIn, ask_errors, bid_errors
from suanwang.service.market_store import ask_out, bid_out, round_out
from suanwang.service.posted_prices import RULE_META
from suanwang.service.store import Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

HOUR_S = 3600.0
MAX_PRICE_HOURS = 24 * 92
MIN_YEAR, MAX_YEAR = 2000, 2200  # times a price range may name


def _when(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise RequestValidationError([{
            "loc": ["query", field], "input": value, "type": "value_error",
            "msg": f"{field} = {value!r}: not an ISO 8601 time (e.g. 2026-12-06T08:00+08:00)"}]
        ) from None
    if not MIN_YEAR <= t.year <= MAX_YEAR:
        raise RequestValidationError([{
            "loc": ["query", field], "input": value, "type": "value_error",
            "msg": f"{field} = {value!r}: a year from {MIN_YEAR} to {MAX_YEAR}"}])
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def mount_market(app: FastAPI, service: "Service", tenant: Callable[..., Tenant],
                 operator: Callable[..., Tenant]) -> None:
    Who = Annotated[Tenant, Depends(tenant)]
    Operator = Annotated[Tenant, Depends(operator)]
    market = service.store.market
    router = APIRouter(tags=["market"])

    def own_bid(bid_id: str, who: Tenant) -> Any:
        row = market.bid(bid_id)
        if row is None or (not who.operator and row.tenant != who.id):
            raise HTTPException(404, f"no bid {bid_id}")
        return row

    @router.post("/v1/market/bids", status_code=201,
                 responses={**errors(AUTH, 400, 413, 422), **LIMIT_ERRORS})
    def post_bid(body: BidIn, who: Who) -> Any:
        """A sealed bid for the next round (every 15 minutes of the run clock): the job, a
        price limit per unit-hour or in total (the most the job may cost, compute and
        transit), optionally a carbon cap and `max_rounds`. Its limit is held on the
        tenant's account; what it buys in a round is held at the clearing price, and while
        units are still to buy it bids again in the following rounds (holding their share)
        until it is filled, expires or is cancelled, when the rest is released."""
        errs = bid_errors(body, service.network)
        if errs:
            raise RequestValidationError(errs)
        now = service.clock.now_s()
        at = service.clock.at(now)
        unit_h = body.units * body.duration_s / HOUR_S
        hold = body.limit_total_yuan if body.limit_total_yuan is not None \
            else float(body.limit_yuan_per_unit_h or 0.0) * unit_h
        job = Job(job_id="", tenant=who.id, origin=body.origin, kind=body.kind,
                  units=body.units, duration_s=body.duration_s, submit_s=now,
                  rtt_bound_ms=body.rtt_bound_ms,
                  deadline_s=now + body.deadline_in_s if body.deadline_in_s else None,
                  data_gb=body.data_gb)

        def needs(basis: str) -> list[Need]:
            carbon = service.live.pricer.need(job, at, basis).carbon_kg
            return [Need(body.kind, body.units, body.duration_s, hold, carbon)]

        no = round_no_at(now)
        try:
            row = market.add_bid(who.id, body.model_dump(mode="json"), now, no,
                                 Admission(who.id, month_of(at), needs), hold)
        except AccountRefused as exc:
            service.metrics.refused.labels(exc.limit_key).inc()
            return json_response(exc.body(), exc.status_code)
        service.metrics.market_bids.labels(body.kind.value).inc()
        return json_response({**bid_out(row), "round_id": round_id_of(no),
                              "clears_at_s": no * ROUND_S}, 201)

    @router.get("/v1/market/bids", responses=errors(AUTH))
    def list_bids(who: Who, state: str | None = None, round_id: str | None = None,
                  tenant: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """Bids, newest first (a tenant's own; the operator's: all, or one `tenant`'s)."""
        scope = tenant if who.operator else who.id
        return {"bids": [bid_out(r) for r in market.bids(scope, state, round_id, limit)]}

    @router.get("/v1/market/bids/{bid_id}", responses=errors(AUTH, 404))
    def get_bid(bid_id: str, who: Who) -> dict[str, Any]:
        row = own_bid(bid_id, who)
        out = bid_out(row)
        if row.state == "open":  # the next round it bids in
            out["clears_at_s"] = max(row.round_no, round_no_at(service.clock.now_s())) * ROUND_S
        return out

    @router.delete("/v1/market/bids/{bid_id}", responses=errors(AUTH, 404, 409))
    def cancel_bid(bid_id: str, who: Who) -> Any:
        """Cancel an open bid: it bids in no further round and what it still holds is
        released (the jobs it bought already run). 409 if it is no longer open."""
        row = own_bid(bid_id, who)
        if not market.cancel_bid(bid_id, service.clock.now_s(), who.id):
            now = market.bid(bid_id) or row
            return json_response({"detail": f"bid {bid_id} is {now.state}, not open: "
                                            "nothing to cancel", "state": now.state}, 409)
        return bid_out(market.bid(bid_id) or row)

    @router.post("/v1/market/asks", status_code=201, responses=errors(OPERATOR, 400, 413, 422))
    def post_ask(body: AskIn, who: Operator) -> dict[str, Any]:
        """A provider's ask for the next round that clears: its reserve per unit-hour and
        the units it offers (at most its free units are used). It replaces an open ask of
        the same provider, site and kind."""
        errs = ask_errors(body, service.live.topology.network)
        if errs:
            raise RequestValidationError(errs)
        row = market.add_ask(body.provider, body.site, body.kind.value,
                             body.reserve_yuan_per_unit_h, body.units, who.id,
                             service.clock.now_s())
        return ask_out(row)

    @router.get("/v1/market/asks", responses=errors(OPERATOR))
    def list_asks(who: Operator, state: str | None = "open",
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
        """Posted asks (default: the open ones; a slice without one asks at its floor).
        Operator only: asks are sealed until their round clears."""
        return {"asks": [ask_out(r) for r in market.asks(state, limit)]}

    def visible(out: dict[str, Any], who: Tenant) -> dict[str, Any]:
        if not who.operator:
            for key in ("matched", "unmatched"):
                if key in out:
                    out[key] = [x for x in out[key] if x.get("tenant") == who.id]
        return out

    @router.get("/v1/market/rounds", responses=errors(AUTH))
    def rounds(who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
               before: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None
               ) -> dict[str, Any]:
        """Cleared rounds, newest first: per market (kind, site, egress rate) the price,
        volume and fill ratio, the round's time to clear; `before` = a round number."""
        rows = market.rounds(limit, before)
        return {"now_s": service.clock.now_s(),
                "next_round": {"id": round_id_of(round_no_at(service.clock.now_s())),
                               "clears_at_s": round_no_at(service.clock.now_s()) * ROUND_S},
                "rounds": [round_out(r, full=False) for r in rows],
                "next_before": rows[-1].round_no if len(rows) == limit else None}

    @router.get("/v1/market/rounds/{round_id}", responses=errors(AUTH, 404))
    def get_round(round_id: str, who: Who) -> dict[str, Any]:
        row = market.round(round_id)
        if row is None:
            raise HTTPException(404, f"no round {round_id} (a round without bids clears "
                                     "nothing and is not recorded)")
        return visible(round_out(row), who)

    def posted_rule() -> dict[str, Any]:
        """The scheduler's rule as of its last revision (its meta row), else this role's."""
        stored = service.store.meta(RULE_META)
        if stored is not None:
            return json.loads(stored)
        rule = service.settings.posted_rule
        return {"scarcity_source": rule.scarcity_source,
                "yuan_per_t_co2": rule.yuan_per_t_co2, "rule": rule.describe()}

    @router.get("/v1/market/prices", responses=errors(AUTH, 422))
    def prices(who: Who, site: str | None = None, provider: str | None = None,
               kind: str | None = None,
               from_: Annotated[str | None, Query(alias="from")] = None,
               to: str | None = None) -> dict[str, Any]:
        """Posted prices per (site, provider, kind, hour) over [from, to) (ISO 8601; default:
        the current hour and the next 24), each hour's last revision."""
        clock = service.clock
        t0 = _when(from_, "from") or clock.at(clock.now_s())
        t1 = _when(to, "to") or t0 + timedelta(hours=25)
        h0 = int((t0 - clock.start_utc).total_seconds() // HOUR_S)
        h1 = int(-((clock.start_utc - t1).total_seconds() // HOUR_S))  # ceil
        if h1 <= h0:
            raise RequestValidationError([{"loc": ["query", "to"], "input": to,
                                           "type": "value_error",
                                           "msg": f"to = {to!r} is not after from"}])
        if h1 - h0 > MAX_PRICE_HOURS:
            raise RequestValidationError([{
                "loc": ["query", "to"], "input": to, "type": "value_error",
                "msg": f"at most {MAX_PRICE_HOURS} hours per request, got {h1 - h0}"}])
        rows = market.price_history(site, provider, kind, h0, h1)
        return {"from": (clock.start_utc + timedelta(hours=h0)).isoformat(),
                "to": (clock.start_utc + timedelta(hours=h1)).isoformat(),
                **posted_rule(),
                "prices": [{
                    "site": r.site, "provider": r.provider, "kind": r.kind, "hour": r.hour,
                    "start": (clock.start_utc + timedelta(hours=r.hour)).isoformat(),
                    "price_yuan_per_unit_h": r.price_yuan_per_unit_h,
                    "floor_yuan_per_unit_h": r.floor_yuan_per_unit_h,
                    "scarcity_yuan_per_unit_h": r.scarcity_yuan_per_unit_h,
                    "utilisation": r.utilisation, "revisions": r.revisions,
                    "revised_s": r.revised_s} for r in rows]}

    app.include_router(router)

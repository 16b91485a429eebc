"""What each route can answer besides its 200, as FastAPI `responses=` dicts, so that the
OpenAPI document is the truth (every status code and content type a route can return;
`tests/service/test_api_conformance.py` holds the service to it with schemathesis).

    @router.get("/v1/things/{thing_id}", responses=errors(AUTH, 404))
    @router.get("/v1/things.csv", response_class=PlainTextResponse,
                responses={**text_body("text/csv", "The things, one a row"), **errors(AUTH)})

- `errors(*codes)`: the error answers of a route; each code is an int (400, 401, 402, 403,
  404, 409, 413, 422, 503 ...) or a tuple of them (`AUTH` = 401, `OPERATOR` = 401 and 403).
  Every error body is JSON `{"detail": ...}`: a message (`ErrorOut`) or, for 422, the list of
  problems FastAPI and our validators produce, or a message (`ValidationErrorOut`).
- `text_body(media_type, description)`: a 200 whose body is text (text/plain, text/html,
  text/csv, application/x-ndjson), for routes that answer in something other than JSON.
- `json_or_text_body(media_type, description)`: a 200 that is JSON or (by a `format=` query)
  text of another type.

Integer query parameters are bounded by the column they are compared with (`MAX_INT32` for an
INTEGER column, `MAX_INT64` for a BIGINT one): a number past what the database holds is a 422
naming the parameter, never an overflow deep in SQL (PostgreSQL refuses a parameter cast to the
column's type that does not fit; SQLite one past 64 bits).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# compared with an INTEGER column (a job's seq, a run-clock hour) or a count the route uses
MAX_INT32 = 2**31 - 1
# compared with a BIGINT column (a ledger record's seq) or a size held in Python only
MAX_INT64 = 2**63 - 1

AUTH = (401,)  # any route behind the bearer token
OPERATOR = (401, 403)  # a route of the operator role

_DESCRIPTIONS = {
    400: "Bad request: the request cannot be read as sent",
    401: "No bearer token, or an unknown one (`WWW-Authenticate: Bearer`)",
    402: "Payment required: the account's credit or budget does not cover this",
    403: "The token's role may not do this (the operator role is needed)",
    404: "Not found (another tenant's object is a 404 too)",
    409: "Conflict with the current state (named in `detail`)",
    413: "The request body is larger than the service accepts",
    422: "The request is well formed but a field is invalid (each problem names the field)",
    429: "Too many requests",
    503: "A backend or the scheduler cannot be reached now; try again",
}


class ErrorOut(BaseModel):
    """An error answer: what went wrong, in words."""

    detail: str


class ValidationIssue(BaseModel):
    """One invalid field: where (`loc`), what (`msg`), the kind of problem (`type`)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A 422: the problems, each naming its field, or a message naming the field."""

    detail: list[ValidationIssue] | str


class LimitRefusalOut(BaseModel):
    """A submission over a limit of the tenant's account: which limit, what the jobs need,
    what is available, by how much they are over, in what unit (and in a batch, which job
    first broke it; nothing of the batch is accepted)."""

    detail: str
    limit: str
    needed: float
    available: float
    over_by: float
    unit: str
    job_index: int | None = None


LIMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"model": LimitRefusalOut,
          "description": "The account's balance does not cover the jobs' worst-case bill"},
    409: {"model": LimitRefusalOut,
          "description": "A quota (units at once, unit-hours per month) or the monthly carbon "
                         "budget of the tenant's account would be exceeded"},
}


def errors(*codes: int | tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of these error codes (ints or tuples of ints)."""
    flat: list[int] = []
    for c in codes:
        flat.extend(c if isinstance(c, tuple) else (c,))
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted(set(flat)):
        if not 400 <= code <= 599:
            raise ValueError(f"error code {code}: must be 400..599")
        model = ValidationErrorOut if code == 422 else ErrorOut
        out[code] = {"model": model,
                     "description": _DESCRIPTIONS.get(code, f"Error {code}")}
    return out


def text_body(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 answered as text of `media_type` (not JSON)."""
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "string"}}}}}


def json_or_text_body(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 that is JSON (its schema from the route) or text of `media_type`."""
    return {200: {"description": description,
                  "content": {"application/json": {}, media_type: {"schema": {
                      "type": "string"}}}}}

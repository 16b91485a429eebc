"""The API against its own OpenAPI document, under schemathesis (issue #17 item 6): every
phase it has (examples, coverage, fuzzing, stateful), as the operator and as a tenant, with a
fixed seed and a small number of examples per operation, on SQLite. Every check is on; the
run must report no failure.

One allowance, stated here: `positive_data_acceptance` also accepts a 422 from the routes
whose validation depends on the running network or ledger, which JSON Schema cannot express
(a job's or a bid's origin must be one of the network's regions and its units fit a pool of its
kind, its deadline after its duration; an ask's provider must sell at its site; a price range
needs ISO 8601 times; a consistency proof needs `old <= new <= records held`; a period
must be a real calendar period). Every such 422 still has to match the documented schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import Status, events, from_schema  # noqa: E402
from schemathesis.python.asgi import shutdown_lifespans  # noqa: E402
from svc_support import settings_for  # noqa: E402

from suanwang.service.api_responses import MAX_INT32, MAX_INT64  # noqa: E402
from suanwang.service.app import create_app  # noqa: E402

SEED = 17
MAX_EXAMPLES = 20  # per operation and phase: the whole run stays within a few minutes
SEMANTIC_422 = ["POST /v1/jobs", "POST /v1/jobs/batch", "GET /v1/ledger/consistency",
                "GET /v1/ledger/certificate", "POST /v1/market/bids", "POST /v1/market/asks",
                "GET /v1/market/prices", "POST /v1/grid/events"]
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


def conformance_config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {"enabled": True},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": True}},
        "operations": [{"include-name": name, "checks": {"positive_data_acceptance": {
            "expected-statuses": [*ACCEPTED, "422"]}}} for name in SEMANTIC_422],
    })


def run_schemathesis(app: Any, token: str) -> tuple[int, list[str], list[str]]:
    """(cases run, failures described, errors described) of one run against `app`."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app,
                                            config=conformance_config(token))
    cases = 0
    failures: set[str] = set()
    errors: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    case = event.recorder.cases[case_id].value
                    failure = check.failure_info.failure
                    failures.add(f"{check.name} on {case.method} {case.path} "
                                 f"(query {case.query}, body {str(case.body)[:200]}): "
                                 f"{failure.title}: {str(failure.message)[:400]}")
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
    return cases, sorted(failures), errors


@pytest.fixture
def fuzz_app(tmp_path: Path) -> Iterator[Any]:
    app = create_app(settings_for((f"sqlite:///{tmp_path / 'svc.db'}", None),
                                  log_dir=tmp_path / "logs"))
    yield app
    shutdown_lifespans()  # schemathesis started the app's lifespan: stop its service


@pytest.mark.parametrize("token", ["tok-ops", "tok-alice"], ids=["operator", "tenant"])
def test_api_conforms_to_its_openapi(fuzz_app: Any, token: str) -> None:
    cases, failures, errors = run_schemathesis(fuzz_app, token)
    assert cases > 100, f"only {cases} cases ran"
    assert not errors, "\n".join(errors)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def test_openapi_declares_bearer_scheme_and_bounds(fuzz_app: Any) -> None:
    doc = TestClient(fuzz_app).get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["HTTPBearer"]["description"]}
    unbounded = [f"{method.upper()} {path} {p['name']}"
                 for path, item in doc["paths"].items() for method, op in item.items()
                 for p in op.get("parameters", [])
                 if "integer" in str(p["schema"]) and "maximum" not in str(p["schema"])]
    assert unbounded == []
    ops = doc["paths"]["/v1/jobs/{job_id}"]["get"]
    assert {"401", "404"} <= set(ops["responses"])
    assert "text/plain" in str(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"])


@pytest.mark.parametrize(("path", "largest"), [
    ("/v1/jobs?cursor={n}", MAX_INT32), ("/v1/ledger?cursor={n}", MAX_INT64),
    ("/v1/ledger?format=jsonl&cursor={n}", MAX_INT64),
    ("/v1/ledger/checkpoint?hour={n}", MAX_INT32),
    ("/v1/ledger/consistency?old=0&new={n}", MAX_INT64),
    ("/v1/dashboard/placements?limit={n}", 200), ("/v1/jobs/x/logs?max_bytes={n}", 2**20),
])
def test_integer_parameters_are_bounded_on_both_databases(
        make_client: Callable[..., TestClient], path: str, largest: int) -> None:
    """The largest value a parameter takes is answered (no overflow in SQL: 200, 404 or a
    422 from the route itself); one past it and a huge one are a 422 naming the parameter."""
    client = make_client()
    auth = {"Authorization": "Bearer tok-ops"}
    r = client.get(path.format(n=largest), headers=auth)
    assert r.status_code in (200, 404, 422), (r.status_code, r.text)
    if r.status_code == 422:
        assert isinstance(r.json()["detail"], str), r.text  # the route's, not the bound's
    for n in (largest + 1, 10**30):
        r = client.get(path.format(n=n), headers=auth)
        assert r.status_code == 422, (n, r.status_code, r.text)
        assert r.json()["detail"][0]["loc"][0] == "query", r.text

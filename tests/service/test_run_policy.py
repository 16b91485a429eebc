"""What tenants may run and what they get back: no command of their own unless the operator
allows it, the operator's job templates, the time limit enforced with TIMEOUT, stdout and
stderr through the API, and /docs served without internet."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, OPS, rt_job, wait_for

from suanwang.service.templates import JobTemplate, load_templates

TEMPLATES = {"hello": JobTemplate(("sh", "-c", "echo hello from $WHO; echo careful >&2"),
                                  {"WHO": "the template"}, "says hello")}


def job(client: TestClient, job_id: str) -> Any:
    return client.get(f"/v1/jobs/{job_id}", headers=ALICE).json()


@pytest.mark.parametrize(("field", "value"), [
    ("command", ["sh", "-c", "rm -rf /"]), ("env", {"LD_PRELOAD": "/tmp/x.so"}),
    ("workdir", "/root")])
def test_a_tenant_command_is_refused_by_default_naming_the_field(
        client: TestClient, field: str, value: Any) -> None:
    r = client.post("/v1/jobs", json=rt_job(**{field: value}), headers=ALICE)
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", field]
    assert "--allow-tenant-commands" in err["msg"]
    r = client.post("/v1/jobs/batch", json={"jobs": [rt_job(), rt_job(**{field: value})]},
                    headers=ALICE)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "jobs", 1, field]
    # the operator's token may
    assert client.post("/v1/jobs", json=rt_job(**{field: value}), headers=OPS
                       ).status_code == 201


def test_tenants_run_the_operators_templates_and_read_both_outputs(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    client = make_client(executor_default="local", log_dir=tmp_path / "logs",
                         job_templates=TEMPLATES)
    listed = client.get("/v1/templates", headers=ALICE).json()
    assert listed["tenant_commands"] is False
    assert [t["name"] for t in listed["templates"]] == ["hello"]
    bad = client.post("/v1/jobs", json=rt_job(template="nosuch"), headers=ALICE)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "template"]
    assert "hello" in bad.json()["detail"][0]["msg"]

    j = client.post("/v1/jobs", json=rt_job(template="hello"), headers=ALICE).json()
    done = wait_for(lambda: job(client, j["id"]), lambda x: x["state"] == "finished")
    assert done["exit_code"] == 0
    assert "hello from the template" in done["log_tail"] and "careful" in done["log_tail"]
    logs = client.get(f"/v1/jobs/{j['id']}/logs", headers=ALICE).json()
    assert logs["available"] is True
    assert logs["stdout"]["text"] == "hello from the template\n"
    assert logs["stderr"]["text"] == "careful\n"
    short = client.get(f"/v1/jobs/{j['id']}/logs", params={"max_bytes": 6},
                       headers=ALICE).json()
    assert short["stdout"]["truncated"] is True and len(short["stdout"]["text"]) <= 6
    assert short["stdout"]["size_bytes"] == len("hello from the template\n")
    too_big = client.get(f"/v1/jobs/{j['id']}/logs", params={"max_bytes": 10**9},
                         headers=ALICE)
    assert too_big.status_code == 422


def test_a_job_past_its_time_limit_is_killed_and_reported_timeout(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    client = make_client(executor_default="local", log_dir=tmp_path / "logs",
                         allow_tenant_commands=True)
    # declares one run hour = 1 wall second at x3600; runs far longer
    body = rt_job(duration_s=3600, command=["sh", "-c", "echo working; sleep 60"])
    j = client.post("/v1/jobs", json=body, headers=ALICE).json()
    failed = wait_for(lambda: job(client, j["id"]), lambda x: x["state"] == "failed")
    assert failed["reason"].startswith("TIMEOUT")
    assert failed["end_s"] - failed["start_s"] < 30 * 3600  # killed well before its sleep ended
    events = client.get(f"/v1/jobs/{j['id']}/events", headers=ALICE).json()
    assert events[-1]["state"] == "failed" and "TIMEOUT" in events[-1]["reason"]
    assert "working" in failed["log_tail"]


def test_logs_of_a_job_that_ran_nowhere_say_so(client: TestClient) -> None:
    j = client.post("/v1/jobs", json=rt_job(), headers=ALICE).json()
    logs = client.get(f"/v1/jobs/{j['id']}/logs", headers=ALICE).json()
    assert logs["available"] is False and logs["stdout"]["text"] == ""
    assert client.get(f"/v1/jobs/{j['id']}/logs", headers=OPS).status_code == 200
    other = {"Authorization": "Bearer tok-bob"}
    assert client.get(f"/v1/jobs/{j['id']}/logs", headers=other).status_code == 404


def test_docs_work_offline_with_an_authorize_button(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    refs = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert refs, page.text
    for ref in refs:
        assert ref.startswith("/"), f"/docs loads {ref} from elsewhere"
        assert client.get(ref).status_code == 200, ref
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/redoc").status_code == 404  # it would load from a CDN
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    assert doc["paths"]["/v1/jobs"]["post"]["security"]
    # the scheme is the real check: a wrong token is still a 401
    assert client.get("/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/v1/jobs").status_code == 401


def test_a_template_file_is_validated_naming_the_field(tmp_path: Path) -> None:
    from suanwang.errors import InputError

    good = tmp_path / "t.yaml"
    good.write_text("render:\n  command: [render, --frames, 100]\n  env: {Q: high}\n",
                    encoding="utf-8")
    assert load_templates(good)["render"].command == ("render", "--frames", "100")
    bad = tmp_path / "bad.yaml"
    bad.write_text("render:\n  command: render\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"render\.command"):
        load_templates(bad)

"""The fake Jenkins behaves like Jenkins where the collector depends on it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fakejenkins import DEFAULT_TOKEN, DEFAULT_USER, FakeJenkins, apply_tree, parse_tree
from jenkins_payloads import JobHistory

JOB = "/job/team/job/service/job/main"


@pytest.fixture
def fj() -> Iterator[FakeJenkins]:
    with FakeJenkins() as fake:
        fake.add_job(JobHistory("team/service/main", builds=130, in_progress=1))
        yield fake
        assert fake.errors == []


@pytest.fixture
def client(fj: FakeJenkins) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fj.url, auth=(DEFAULT_USER, DEFAULT_TOKEN)) as c:
        yield c


def test_tree_syntax() -> None:
    data = {"_class": "J", "a": 1, "b": [{"_class": "B", "c": i, "d": i} for i in range(5)]}
    assert apply_tree(data, parse_tree("a")) == {"_class": "J", "a": 1}
    assert apply_tree(data, parse_tree("b[c]{1,3}")) == {
        "_class": "J",
        "b": [{"_class": "B", "c": 1}, {"_class": "B", "c": 2}],
    }
    assert [b["c"] for b in apply_tree(data, parse_tree("b[c]{3,}"))["b"]] == [3, 4]
    assert [b["c"] for b in apply_tree(data, parse_tree("b[c]{,2}"))["b"]] == [0, 1]
    assert [b["c"] for b in apply_tree(data, parse_tree("b[c]{4}"))["b"]] == [4]
    assert apply_tree(data, parse_tree("b")) == {"_class": "J", "b": [{"_class": "B"}] * 5}


def test_all_builds_only_when_named_and_builds_capped(client: httpx.Client) -> None:
    plain = client.get(f"{JOB}/api/json").json()
    assert "allBuilds" not in plain and len(plain["builds"]) == 100
    assert set(plain["builds"][0]) == {"_class", "number", "url"}
    page = client.get(f"{JOB}/api/json", params={"tree": "allBuilds[number]{100,200}"}).json()
    assert [b["number"] for b in page["allBuilds"]] == list(range(30, 0, -1))
    capped = client.get(f"{JOB}/api/json", params={"tree": "builds[number]{100,200}"}).json()
    assert capped["builds"] == []
    assert client.get(f"{JOB}/api/json").headers["x-jenkins"]


def test_wfapi_limits(client: httpx.Client) -> None:
    assert client.get(f"{JOB}/wfapi/describe").json()["runCount"] == 10
    runs = client.get(f"{JOB}/wfapi/runs").json()
    assert len(runs) == 10 and "stageFlowNodes" not in runs[0]["stages"][0]
    since = client.get(f"{JOB}/wfapi/runs", params={"since": "#127"}).json()
    assert [r["name"] for r in since] == ["#130", "#129", "#128", "#127"]
    short = client.get(f"{JOB}/5/wfapi/describe").json()
    assert "stageFlowNodes" not in short["stages"][1]
    full = client.get(f"{JOB}/5/wfapi/describe", params={"fullStages": "true"}).json()
    stage = full["stages"][1]
    assert stage["stageFlowNodes"]
    node = client.get(f"{JOB}/5/execution/node/{stage['id']}/wfapi/describe").json()
    assert node["stageFlowNodes"] == stage["stageFlowNodes"]


def test_hundred_child_nodes_at_most() -> None:
    with FakeJenkins() as fake:
        fake.add_job(JobHistory("big", builds=1, in_progress=0, steps_per_stage=150))
        with httpx.Client(base_url=fake.url, auth=(DEFAULT_USER, DEFAULT_TOKEN)) as c:
            full = c.get("/job/big/1/wfapi/describe", params={"fullStages": "true"}).json()
            assert len(full["stages"][1]["stageFlowNodes"]) == 100
            node = c.get(f"/job/big/1/execution/node/{full['stages'][1]['id']}/wfapi/describe")
            assert len(node.json()["stageFlowNodes"]) == 100


def test_auth_and_permissions(fj: FakeJenkins) -> None:
    assert httpx.get(f"{fj.url}{JOB}/api/json").status_code == 403
    wrong = httpx.get(f"{fj.url}{JOB}/api/json", auth=(DEFAULT_USER, "nope"))
    assert wrong.status_code == 401
    fj.hide(DEFAULT_USER, "team/service/main")
    hidden = httpx.get(f"{fj.url}{JOB}/api/json", auth=(DEFAULT_USER, DEFAULT_TOKEN))
    assert hidden.status_code == 404
    post = httpx.post(f"{fj.url}/job/team/api/json", auth=(DEFAULT_USER, DEFAULT_TOKEN))
    assert post.status_code == 403


def test_without_stage_view_every_wfapi_url_is_404() -> None:
    with FakeJenkins(stage_view=False) as fake:
        fake.add_job(JobHistory("app", builds=3))
        with httpx.Client(base_url=fake.url, auth=(DEFAULT_USER, DEFAULT_TOKEN)) as c:
            assert c.get("/job/app/wfapi/describe").status_code == 404
            assert c.get("/job/app/1/wfapi/describe").status_code == 404
            assert c.get("/job/app/1/api/json").status_code == 200

"""The Graph emulator's $batch, the 4-per-mailbox concurrency limit and fault injection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.emulators.graph import GraphEmulator
from tests.emulators.graph.fixtures import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    Client,
    client_fixture,
    event_json,
    graph_fixture,
)

JSON = {"Content-Type": "application/json"}


def part(pid: str, method: str, url: str, body: dict | None = None, **extra: object) -> dict:
    out: dict = {"id": pid, "method": method, "url": url, **extra}
    if body is not None:
        out["body"], out["headers"] = body, JSON
    return out


def test_batch_parts_dependencies_and_limits(graph: GraphEmulator, client: Client) -> None:
    path = f"/users/{ALICE}/events"
    chained = [part("1", "POST", path, event_json("a"))]
    chained += [
        part(str(i), "POST", path, event_json(f"e{i}"), dependsOn=[str(i - 1)]) for i in range(2, 8)
    ]
    answer = client("POST", "/$batch", {"requests": chained})
    assert answer.status == 200
    assert [r["status"] for r in answer["responses"]] == [201] * 7
    assert len(client("GET", f"{path}?$top=50")["value"]) == 7
    too_many = [part(str(i), "GET", path) for i in range(21)]
    assert client("POST", "/$batch", {"requests": too_many}).status == 400
    no_type = [{"id": "1", "method": "POST", "url": path, "body": event_json()}]
    assert client("POST", "/$batch", {"requests": no_type}).status == 400
    failing = [
        part("1", "GET", f"{path}/AAkALgAAmissing"),
        part("2", "PATCH", f"{path}/AAkALgAAmissing", {"subject": "x"}, dependsOn=["1"]),
    ]
    statuses = [r["status"] for r in client("POST", "/$batch", {"requests": failing})["responses"]]
    assert statuses == [404, 424]
    parts_seen = [c for c in graph.calls if c.in_batch]
    assert len(parts_seen) == 8  # each part is a call; the 424 never ran


def test_batch_parts_side_by_side_share_the_mailbox_limit(client: Client) -> None:
    path = f"/users/{ALICE}/events"
    parallel = [part(str(i), "POST", path, event_json(f"p{i}")) for i in range(6)]
    parallel.append(part("bob", "GET", f"/users/{BOB}/events"))
    responses = client("POST", "/$batch", {"requests": parallel})["responses"]
    statuses = {r["id"]: r["status"] for r in responses}
    assert sorted(statuses[str(i)] for i in range(6)) == [201] * 4 + [429] * 2
    assert statuses["bob"] == 200
    throttled = next(r for r in responses if r["status"] == 429)
    assert throttled["headers"]["Retry-After"] == "1"
    assert throttled["body"]["error"]["code"] == "ApplicationThrottled"


def test_fifth_concurrent_request_per_mailbox_is_429(graph: GraphEmulator, client: Client) -> None:
    graph.latency = 1.0
    with ThreadPoolExecutor(8) as pool:
        alice = list(pool.map(lambda _: client("GET", f"/users/{ALICE}/events"), range(6)))
    statuses = sorted(a.status for a in alice)
    assert statuses.count(200) == 4 and statuses.count(429) == 2
    refused = next(a for a in alice if a.status == 429)
    assert refused.headers["Retry-After"] == "1"
    assert "MailboxConcurrency" in refused["error"]["message"]
    assert graph.throttle.peak[ALICE] == 4
    graph.latency = 0
    assert client("GET", f"/users/{ALICE}/events").status == 200


def test_fail_next_and_reject(graph: GraphEmulator, client: Client) -> None:
    path = f"/users/{ALICE}/events"
    made = client("POST", path, event_json())
    graph.fail_next(r"^GET /users/.*/events$", 503, count=2, retry_after=7)
    first = client("GET", path)
    assert first.status == 503 and first.headers["Retry-After"] == "7"
    assert client("GET", path).status == 503 and client("GET", path).status == 200
    graph.fail_next("PATCH", 429)
    assert client("PATCH", f"{path}/{made['id']}", {"subject": "x"}).status == 429
    graph.reject(made["id"], 403, times=2)
    assert client("PATCH", f"{path}/{made['id']}", {"subject": "y"}).status == 403
    assert client("DELETE", f"{path}/{made['id']}").status == 403
    assert client("GET", f"{path}/{made['id']}")["subject"] == "Meeting"
    assert client("PATCH", f"{path}/{made['id']}", {"subject": "z"}).status == 200
    assert [c.status for c in graph.calls][-7:] == [503, 200, 429, 403, 403, 200, 200]


def test_batch_parts_carry_their_own_headers(graph: GraphEmulator, client: Client) -> None:
    path = f"/users/{ALICE}/events"
    made = client("POST", path, event_json())
    parts = [
        part("1", "GET", f"{path}/{made['id']}"),
        {**part("2", "GET", f"{path}/{made['id']}"), "headers": {"Prefer": 'IdType="ImmutableId"'}},
        part(
            "3",
            "PATCH",
            f"{path}/{made['id']}",
            {"subject": "x"},
            dependsOn=["2"],
        ),
    ]
    parts[2]["headers"]["If-Match"] = 'W/"stale"'
    outer = client("POST", "/$batch", {"requests": parts})  # Prefer on the batch is not inherited
    answers = {r["id"]: r for r in outer["responses"]}
    assert answers["1"]["body"]["id"] != made["id"]  # a REST id: the part asked for nothing
    assert answers["2"]["body"]["id"] == made["id"]
    assert answers["3"]["status"] == 412


def test_request_rate_per_app_and_mailbox(graph: GraphEmulator, client: Client) -> None:
    graph.throttle.rate, graph.throttle.per = 3, 60.0
    statuses = [client("GET", f"/users/{ALICE}/events").status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client("GET", f"/users/{BOB}/events").status == 200  # another mailbox
    refused = client("GET", f"/users/{ALICE}/events")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_concurrent_api_and_user_side_writes(graph: GraphEmulator, client: Client) -> None:
    path = f"/users/{BOB}/events"
    alice = graph.mailbox(ALICE)
    mine = [alice.create(**event_json(f"user{i}")) for i in range(10)]

    def api(i: int) -> int:
        return client("POST", path, event_json(f"api{i}")).status

    def user(i: int) -> None:
        alice.update(mine[i]["id"], subject=f"edited{i}")

    with ThreadPoolExecutor(6) as pool:  # API calls and Outlook edits interleaved
        api_calls = [pool.submit(api, i) for i in range(12)]
        edits = [pool.submit(user, i) for i in range(10)]
        created = [f.result() for f in api_calls]
        for edit in edits:
            edit.result()
    assert created.count(201) + created.count(429) == 12
    made = created.count(201)
    assert len(graph.mailbox(BOB).events()) == made
    assert sorted(e["subject"] for e in alice.events()) == sorted(f"edited{i}" for i in range(10))

"""What the resource-unit throttle tells a client before and when it throttles (Graph's throttling-limits.md,
"Identity and access service limits"): x-ms-throttle-limit-percentage above 0.8 of the limit, the 429's
x-ms-throttle-information, and the call log's count of requests sent while a Retry-After was still running."""

from __future__ import annotations

import time

from graph_emulator.config import Throttle
from graph_emulator.quotas import TokenBucket

ONE_UNIT = {"$select": "id"}  # GET /users with $select: 2 − 1 = 1 resource unit


def test_the_limit_percentage_appears_only_above_eight_tenths_of_the_limit(graph, control):
    control.configure(throttle={"enabled": True, "capacity": 10, "windowSeconds": 1000})

    answers = [graph.get("/users", params=ONE_UNIT) for _ in range(10)]

    assert [r.status_code for r in answers] == [200] * 10
    assert all("x-ms-throttle-limit-percentage" not in r.headers for r in answers[:8])
    used = [float(r.headers["x-ms-throttle-limit-percentage"]) for r in answers[8:]]
    assert 0.89 <= used[0] <= 0.9 and 0.99 <= used[1] <= 1.0
    assert all(r.headers["x-ms-resource-unit"] == "1" for r in answers)


def test_a_resource_unit_429_says_so_and_carries_no_limit_percentage(graph, control):
    control.configure(throttle={"enabled": True, "capacity": 2, "windowSeconds": 1000})

    answers = [graph.get("/users", params=ONE_UNIT) for _ in range(3)]

    throttled = answers[2]
    assert throttled.status_code == 429
    assert throttled.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert "x-ms-throttle-limit-percentage" not in throttled.headers
    assert "x-ms-throttle-information" not in answers[1].headers


def test_no_limit_percentage_below_eight_tenths_of_the_default_limit_or_without_the_throttle(graph, control):
    """The default bucket is on at Graph's size (3,500 per 10 s): five reads use far less than 0.8 of it."""
    default = [graph.get("/users", params=ONE_UNIT) for _ in range(5)]
    control.configure(throttle={"enabled": False})
    off = [graph.get("/users", params=ONE_UNIT) for _ in range(5)]

    assert control.config()["throttle"]["capacity"] == 3500
    assert all("x-ms-throttle-limit-percentage" not in r.headers for r in default + off)


def test_the_use_passes_the_limit_once_throttled_requests_are_charged_and_stops_at_1_8():
    now = [0.0]
    bucket = TokenBucket(Throttle(enabled=True, capacity=10, window_seconds=1000), clock=lambda: now[0])

    for _ in range(10):
        bucket.charge(1)
    assert bucket.use() == 1.0 and bucket.limit_percentage() == "1"
    for _ in range(5):
        assert bucket.charge(1) is not None  # throttled, still charged
    assert bucket.use() == 1.5
    for _ in range(10):
        bucket.charge(1)
    assert bucket.use() == 1.8


def test_requests_sent_while_a_retry_after_runs_are_counted_early_per_route(graph, control):
    control.configure(throttle={"enabled": True, "capacity": 2, "windowSeconds": 2})
    graph.get("/users", params=ONE_UNIT)
    graph.get("/users", params=ONE_UNIT)
    throttled = graph.get("/users", params=ONE_UNIT)
    assert throttled.status_code == 429

    early = graph.get("/users", params=ONE_UNIT)
    time.sleep(float(early.headers["Retry-After"]) + 0.1)  # the early request was charged too: its wait is longer
    on_time = graph.get("/users", params=ONE_UNIT)

    calls = control.calls()
    assert early.status_code == 429 and on_time.status_code == 200
    assert calls["earlyRequests"] == 1 and calls["early"] == {"GET /users": 1}
    assert [entry.get("early", False) for entry in calls["log"]] == [False, False, False, True, False]


def test_no_request_is_early_without_a_429(graph, control):
    control.configure(throttle={"enabled": True, "capacity": 20, "windowSeconds": 2})

    for _ in range(5):
        graph.get("/users", params=ONE_UNIT)

    assert control.calls()["earlyRequests"] == 0 and control.calls()["early"] == {}


def test_batch_items_carry_the_limit_percentage_and_are_judged_early_on_their_own(graph, control):
    user_id = control.seed_user(mail="ann@fabrikam.com", userType="Guest")["id"]
    control.configure(throttle={"enabled": True, "capacity": 2, "windowSeconds": 1000})

    def read(item_id: str) -> dict:
        return {"id": item_id, "method": "GET", "url": f"/users/{user_id}?$select=id"}  # 1 RU

    first = {a["id"]: a for a in graph.post("/$batch", json={"requests": [read("1"), read("2"), read("3")]})
             .json()["responses"]}
    graph.post("/$batch", json={"requests": [read("4")]})

    assert "x-ms-throttle-limit-percentage" not in first["1"]["headers"]
    assert first["2"]["headers"]["x-ms-throttle-limit-percentage"] == "1"
    assert first["3"]["status"] == 429
    assert first["3"]["headers"]["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    calls = control.calls()
    assert calls["early"] == {"GET /users/{id}": 1} and calls["earlyRequests"] == 1  # the envelope is not judged

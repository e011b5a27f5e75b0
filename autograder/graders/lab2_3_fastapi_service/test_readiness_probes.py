"""Hidden grader: liveness vs readiness while the model loads, after a failed load and while draining
(Lab 2.3, notebook 04).

The app runs with its lifespan in Starlette's ``TestClient``, inside the sandbox; ``load_model`` is an async
callable made there (``sandbox_helpers.GatedLoader``) that waits on a gate the grader opens, so every phase is
observed deterministically. Phases are polled with a deadline, and startup runs in a thread with a time limit
(``sandbox_helpers.enter_in_thread``), so a lifespan that waits for the model is reported instead of hanging.
"""
from __future__ import annotations

import time

import pytest

from autograder.api import fail_with, points

EXERCISES = ["readiness_probes"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 25


def Loader(fail=False):
    """The gated load_model inside the sandbox (``open()`` lets it finish; ``calls`` counts calls)."""
    return _helpers["helpers"].GatedLoader(fail=fail)


_helpers: dict = {}


@pytest.fixture(autouse=True)
def _sandbox_helpers(student):
    _helpers["helpers"] = student.__sandbox__.helpers
    yield
    _helpers.clear()


class Client:
    """A TestClient inside the sandbox (a handle) and the sandbox's helpers."""

    def __init__(self, client, helpers):
        self.client, self.helpers = client, helpers

    def get(self, path):
        return self.client.get(path)

    def post(self, path):
        return self.client.post(path)


def start(student, loader, limit=3.0):
    """Enter TestClient (runs the lifespan startup) in a thread; fail if it does not return in `limit` s."""
    helpers = _helpers["helpers"]
    try:
        app = student.create_probe_app(loader)
    except Exception as exc:
        fail_with(f"create_probe_app(load_model) raised {type(exc).__name__}: {exc}")
    client = helpers.construct("fastapi.testclient", "TestClient", app)
    try:
        status, _ = helpers.enter_in_thread(client, limit)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"starting the app raised {type(exc).__name__}: {exc}")
    if status == "timeout":
        loader.open()                    # let it finish so the thread ends
        time.sleep(0.2)
        helpers.exit_in_thread(client, 5)
        fail_with(f"the app's startup did not finish within {limit} s while load_model() was still running: "
                  f"start loading in a background task (asyncio.create_task) instead of awaiting it in the lifespan")
    return Client(client, helpers)


def stop(client, limit=3.0):
    return client.helpers.exit_in_thread(client.client, limit)


def get(client, path):
    r = client.get(path)
    try:
        body = r.json()
    except ValueError:
        body = r.text[:80]
    return int(r.status_code), body


def wait_for(client, path, status, limit=2.0):
    deadline = time.monotonic() + limit
    seen = None
    while time.monotonic() < deadline:
        seen = get(client, path)
        if seen[0] == status:
            return seen
        time.sleep(0.01)
    return seen


@points(1)
def test_live_and_not_ready_while_loading(student):
    """while the model loads: startup returns, /health/live is 200, /health/ready is 503 loading"""
    loader = Loader()
    client = start(student, loader)
    try:
        live, ready = get(client, "/health/live"), get(client, "/health/ready")
        if live[0] != 200:
            fail_with(f"while load_model() is still running, GET /health/live answered {live}; expected 200 "
                      f"(the process is alive; a failing liveness probe would get it restarted mid-load)")
        if ready != (503, {"status": "loading"}):
            fail_with(f"while load_model() is still running, GET /health/ready answered {ready}; expected "
                      f"(503, {{'status': 'loading'}})")
    finally:
        loader.open()
        stop(client)


@points(1)
def test_ready_after_load(student):
    """after the model has loaded /health/ready is 200 ready, and load_model ran exactly once"""
    loader = Loader()
    client = start(student, loader)
    try:
        loader.open()
        got = wait_for(client, "/health/ready", 200)
        if got != (200, {"status": "ready"}):
            fail_with(f"2 s after load_model() returned, GET /health/ready answers {got}; expected "
                      f"(200, {{'status': 'ready'}})")
        for _ in range(3):
            get(client, "/health/ready")
            get(client, "/health/live")
        if loader.calls != 1:
            fail_with(f"load_model() was called {loader.calls} times (startup plus probes); expected once")
        if get(client, "/health/live")[0] != 200:
            fail_with("GET /health/live should stay 200 once the model is loaded")
    finally:
        stop(client)


@points(1)
def test_drain(student):
    """POST /admin/drain makes readiness 503 draining for good, liveness stays 200"""
    loader = Loader()
    client = start(student, loader)
    try:
        loader.open()
        wait_for(client, "/health/ready", 200)
        r = client.post("/admin/drain")
        if r.status_code != 200:
            fail_with(f"POST /admin/drain answered {r.status_code}; expected 200")
        ready, live = get(client, "/health/ready"), get(client, "/health/live")
        if ready != (503, {"status": "draining"}) or live[0] != 200:
            fail_with(f"after POST /admin/drain, /health/ready is {ready} and /health/live is {live}; expected "
                      f"(503, {{'status': 'draining'}}) and 200 (draining takes the pod out of the load balancer, "
                      f"it must not get it restarted)")
    finally:
        stop(client)
    loader = Loader()
    client = start(student, loader)
    try:
        client.post("/admin/drain")         # drained while still loading
        loader.open()
        time.sleep(0.2)
        ready = get(client, "/health/ready")
        if ready != (503, {"status": "draining"}):
            fail_with(f"drained while the model was still loading, then the load finished: /health/ready is "
                      f"{ready}; expected to stay (503, {{'status': 'draining'}})")
    finally:
        stop(client)


@points(1)
def test_failed_load(student):
    """a load_model that raises makes readiness 503 failed and liveness 503"""
    loader = Loader(fail=True)
    client = start(student, loader)
    try:
        loader.open()
        ready = wait_for(client, "/health/ready", 503)
        live = wait_for(client, "/health/live", 503)
        time.sleep(0.05)
        ready, live = get(client, "/health/ready"), get(client, "/health/live")
        if ready != (503, {"status": "failed"}) or live[0] != 503:
            fail_with(f"after load_model() raised RuntimeError, /health/ready is {ready} and /health/live is {live}; "
                      f"expected (503, {{'status': 'failed'}}) and 503 (a replica that cannot load its model should "
                      f"be restarted)")
    finally:
        stop(client)


@points(1)
def test_loads_in_lifespan_only(student):
    """create_probe_app does not load the model; each started app loads it once"""
    loader = Loader()
    try:
        app = student.create_probe_app(loader)
    except Exception as exc:
        fail_with(f"create_probe_app(load_model) raised {type(exc).__name__}: {exc}")
    time.sleep(0.05)
    if loader.calls != 0:
        fail_with(f"create_probe_app(load_model) called load_model {loader.calls} time(s) before the app was started; "
                  f"load in the lifespan")
    loader.open()
    for _ in range(2):
        client = start(student, loader)
        try:
            wait_for(client, "/health/ready", 200)
        finally:
            stop(client)
    if loader.calls != 2:
        fail_with(f"two apps started one after the other called load_model {loader.calls} times in all; expected 2")

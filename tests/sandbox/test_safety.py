"""Safe to leave running: field caps, a memory bound, each candidate's own link, event URLs
that no Host header can steer, and pages that show one candidate to that candidate only."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import httpx2
import pytest

from assessment_asgi.sandbox import SandboxApp
from tests._servers import free_port, serve

from .conftest import Running
from .test_cli import ROOT, _banner, _env, _running

TWO = [{"name": "Priya Sharma", "email": "priya@example.com"},
       {"name": "Jon Park", "email": "jon@example.com"}]


def _opened(sandbox: Running, users: list[dict[str, str]] = TWO) -> dict[str, Any]:
    created = httpx2.post(f"{sandbox.platform_url}/sessions", headers=sandbox.keys,
                          json={"users": users, "recruiterId": "rec_1"})
    created.raise_for_status()
    opened = httpx2.post(f"{sandbox.url}/portal/open", json={"token": created.json()["data"]["token"]})
    data: dict[str, Any] = opened.json()["data"]
    return data


def _pending(sandbox: Running) -> list[dict[str, Any]]:
    response = httpx2.get(f"{sandbox.platform_url}/webhook/events", headers=sandbox.keys)
    events: list[dict[str, Any]] = response.json()["data"]["events"]
    return events


# ── field caps and a bound on memory ───────────────────────────────────────────


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("name", "N" * 1_000_000, "users[0]"),
        ("name", "N" * 201, "users[0]"),
        ("email", "e" * 250 + "@x.io", "users[0]"),
        ("candidateId", "c" * 129, "users[0]"),
        ("recruiterId", "r" * 129, None),
        ("workflowId", "w" * 129, None),
    ],
    ids=["name-1MB", "name-201", "email-255", "candidateId-129", "recruiterId-129",
         "workflowId-129"],
)
def test_oversized_fields_are_refused_not_stored(
    sandbox: Running, field: str, value: str, where: str | None
) -> None:
    person = {"name": "Ada", "email": "ada@example.com"}
    body: dict[str, Any] = {"users": [person], "recruiterId": "rec_1"}
    (person if where else body)[field] = value
    response = httpx2.post(f"{sandbox.platform_url}/sessions", headers=sandbox.keys, json=body)
    assert response.status_code == 400
    limit = {"name": 200, "email": 254}.get(field, 128)
    assert f"{field} must be at most {limit} characters" in response.json()["error"]
    assert len(response.content) < 1000  # the value is not echoed back
    assert sandbox.app.pending_events() == []


def test_fields_at_their_caps_are_accepted(sandbox: Running) -> None:
    person = {"name": "N" * 200, "email": "e" * 240 + "@example.com", "candidateId": "c" * 128}
    response = httpx2.post(f"{sandbox.platform_url}/sessions", headers=sandbox.keys,
                           json={"users": [person], "recruiterId": "r" * 128})
    assert response.status_code == 200


def _big_session(url: str, keys: dict[str, str], tag: str) -> str:
    users = [{"name": f"{tag}{n:04d}" + "N" * 190, "email": f"{tag}{n}" + "e" * 200 + "@example.com"}
             for n in range(1000)]
    response = httpx2.post(f"{url}/api/v1/sessions", headers=keys, timeout=30,
                           json={"users": users, "recruiterId": "rec_1"})
    response.raise_for_status()
    token: str = response.json()["data"]["token"]
    return token


def test_stored_bytes_are_bounded_by_forgetting_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    app = SandboxApp(max_stored_bytes=1_048_576)
    with serve(app) as url:
        running = Running(app, url)
        tokens = [_big_session(url, running.keys, tag) for tag in "abc"]  # ~0.5 MB each
        opened = [httpx2.post(f"{url}/portal/open", json={"token": t}).status_code for t in tokens]
    assert opened == [401, 401, 200]  # the two oldest were forgotten to stay under 1 MiB
    assert any("max_stored_bytes=1048576" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


def test_max_stored_bytes_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="max_stored_bytes"):
        SandboxApp(max_stored_bytes=1000)


# ── finishing needs the candidate's own link ───────────────────────────────────


def test_a_candidate_cannot_finish_or_disqualify_another(sandbox: Running) -> None:
    data = _opened(sandbox)
    priya, jon = data["candidates"]
    base = {"assessmentId": data["assessmentId"], "candidateId": jon["id"]}
    attempts = [
        base,  # the assessment id alone (in every shared link)
        {**base, "candidateKey": priya["key"], "outcome": "disqualified"},  # someone else's link
        {**base, "candidateKey": ""},
        {**base, "candidateKey": 42},
    ]
    statuses = [httpx2.post(f"{sandbox.url}/portal/complete", json=a).status_code
                for a in attempts]
    assert statuses == [403, 403, 403, 403]
    assert _pending(sandbox) == []
    own = httpx2.post(f"{sandbox.url}/portal/complete", json={**base, "candidateKey": jon["key"]})
    assert own.status_code == 200
    assert [e["candidateId"] for e in _pending(sandbox)] == [jon["id"]]


def test_sending_needs_the_opened_portals_key(sandbox: Running) -> None:
    data = _opened(sandbox)
    refused = httpx2.post(f"{sandbox.url}/portal/send", json={"assessmentId": data["assessmentId"]})
    assert refused.status_code == 403
    assert _pending(sandbox) == []


def test_campaign_candidates_get_their_own_links_and_pages(sandbox: Running) -> None:
    campaign = httpx2.post(
        f"{sandbox.platform_url}/campaigns", headers=sandbox.keys,
        json={"workflowId": "wf_1", "method": "knowledge", "users": TWO},
    ).json()["data"]
    shared = httpx2.get(campaign["assessmentLink"])
    assert shared.status_code == 200
    for person in TWO:  # the shared link names nobody, and offers no Finish button
        assert person["email"] not in shared.text
        assert person["name"] not in shared.text
    assert "finish-button" not in shared.text

    [generated] = _pending(sandbox)
    priya, jon = generated["candidates"]
    page = httpx2.get(priya["link"])
    assert page.status_code == 200
    assert "priya@example.com" in page.text
    assert "jon@example.com" not in page.text
    assert "Jon Park" not in page.text
    assert page.text.count('data-testid="finish-button"') == 1
    assert page.headers["referrer-policy"] == "no-referrer"
    assert httpx2.get(priya["link"] + "x").status_code == 404
    assert httpx2.get(jon["link"].rsplit("/", 1)[0] + "/guess").status_code == 404

    key = priya["link"].rsplit("/", 1)[1]
    done = httpx2.post(f"{sandbox.url}/portal/complete", json={
        "assessmentId": campaign["assessmentId"], "candidateId": priya["id"], "candidateKey": key})
    assert done.status_code == 200


# ── links come from the sandbox's own address, never the Host header ──────────


def test_event_urls_ignore_the_host_header(sandbox: Running) -> None:
    data = _opened(sandbox)
    candidate = data["candidates"][0]
    done = httpx2.post(
        f"{sandbox.url}/portal/complete", headers={"Host": "evil.example"},
        json={"assessmentId": data["assessmentId"], "candidateId": candidate["id"],
              "candidateKey": candidate["key"]},
    )
    assert done.status_code == 200
    [event] = _pending(sandbox)
    assert event["reportUrl"].startswith(f"{sandbox.url}/reports/")
    assert event["verification"]["imageUrl"].startswith(f"{sandbox.url}/media/")
    campaign = httpx2.post(
        f"{sandbox.platform_url}/campaigns", headers={**sandbox.keys, "Host": "evil.example"},
        json={"workflowId": "wf", "method": "knowledge", "name": "A", "email": "a@example.com"},
    ).json()["data"]
    assert campaign["assessmentLink"].startswith(f"{sandbox.url}/assessment/")
    assert "evil.example" not in str(sandbox.app.pending_events())


def test_a_configured_public_url_starts_every_link() -> None:
    app = SandboxApp(public_url="https://demo.example.test/sandbox/")
    with serve(app) as url:
        running = Running(app, url)
        data = _opened(running)
        candidate = data["candidates"][0]
        httpx2.post(f"{url}/portal/complete", headers={"Host": "evil.example"}, json={
            "assessmentId": data["assessmentId"], "candidateId": candidate["id"],
            "candidateKey": candidate["key"]}).raise_for_status()
        [event] = _pending(running)
    assert event["reportUrl"].startswith("https://demo.example.test/sandbox/reports/")
    assert candidate["link"].startswith("https://demo.example.test/sandbox/assessment/")


@pytest.mark.parametrize("bad", ["ftp://x.example", "demo.example.test", "https://x.example/?a=1"])
def test_public_url_is_checked_at_construction(bad: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        SandboxApp(public_url=bad)


# ── the command line: the real address, and a loud warning when exposed ──────


def test_a_non_loopback_bind_is_named_and_warned_about() -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "assessment_asgi", "sandbox", "--host", "0.0.0.0",
         "--port", str(port)],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:
        banner = _banner(process)  # printed before the server starts; stop right away
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert f"listening on 0.0.0.0:{port} (every interface)" in banner
    assert f"open: http://127.0.0.1:{port}" in banner
    assert "WARNING" in stderr
    assert "not on loopback" in stderr


def test_a_loopback_bind_prints_its_address_and_no_warning() -> None:
    with _running(_env()) as (port, process):
        banner = _banner(process)
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert f"listening on 127.0.0.1:{port}\n" in banner
    assert "WARNING" not in stderr

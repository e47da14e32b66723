"""Two companies on the example's sandbox, each with its own organisation (issue 20): a real
server, the real embedded sandbox, the official Python SDK reading each organisation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from record_assessment_backend import AssessmentClient

from assessment_asgi import AssessmentSettings, Credentials
from assessment_asgi.sandbox import SandboxApp
from example_app import create_app
from example_app._dev_login import DevLogin
from tests._servers import serve

SECRET = "example-companies-test-secret-0123456789abcdef"
ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}


@dataclass
class Served:
    url: str
    sandbox: SandboxApp
    organisations: dict[str, Credentials]

    def sdk(self, company: str) -> AssessmentClient:
        """The official SDK with ``company``'s organisation keys, over the sandbox's mount."""
        keys = self.organisations[company]
        platform = SandboxApp.platform_url(f"{self.url}/sandbox")
        return AssessmentClient(
            api_key=keys.api_key.get_secret_value(), secret_key=keys.secret_key.get_secret_value(),
            base_url=platform, webhook_base_url=platform, timeout=10.0,
        )


@pytest.fixture
def served(clean_env: None) -> Iterator[Served]:
    sandbox = SandboxApp(record_requests=100)
    app = create_app(settings=AssessmentSettings(), sandbox=sandbox, jwt_secret=SECRET)
    with serve(app) as url:
        yield Served(url, sandbox, app.state.organisations)


def _sign_in(served: Served, company: str) -> str:
    answer = httpx2.post(f"{served.url}/login", json={
        "name": "Rita Recruiter", "email": "rita@hire.example", "company": company})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["recruiter"]["company"]["id"] == company
    return str(answer.json()["data"]["token"])


def _session_finished(served: Served, recruiter_token: str, candidate: dict[str, str]) -> str:
    """A session created through the example's endpoint, opened and finished in the portal."""
    created = httpx2.post(f"{served.url}/assessment/session", json={"users": [candidate]},
                          headers={"Authorization": f"Bearer {recruiter_token}"})
    assert created.status_code == 200, created.text
    portal = f"{served.url}/sandbox/portal"
    opened = httpx2.post(f"{portal}/open", json={"token": created.json()["data"]["token"]})
    data = opened.json()["data"]
    done = httpx2.post(f"{portal}/complete", json={
        "assessmentId": data["assessmentId"], "candidateId": data["candidates"][0]["id"],
        "candidateKey": data["candidates"][0]["key"]})
    assert done.status_code == 200, done.text
    return str(data["assessmentId"])


def test_the_two_companies_have_their_own_organisations(served: Served) -> None:
    assert sorted(served.organisations) == ["acme", "globex"]
    assert served.organisations["acme"] == served.sandbox.credentials
    assert served.organisations["globex"] in served.sandbox.organisations
    assert served.organisations["globex"] != served.organisations["acme"]


@pytest.mark.parametrize(("company", "other"), [("globex", "acme"), ("acme", "globex")])
def test_a_recruiters_session_is_on_their_companys_organisation_only(
    served: Served, company: str, other: str
) -> None:
    assessment_id = _session_finished(served, _sign_in(served, company), ADA)

    # The platform call carried the company's keys.
    (call,) = served.sandbox.recorder.to("/sessions", method="POST")
    assert call.headers["x-api-key"] == served.organisations[company].api_key.get_secret_value()
    # The company's organisation has the session and its result; the other has nothing.
    mine, theirs = served.sdk(company), served.sdk(other)
    assert [a["assessmentId"] for a in mine.list_assessments()] == [assessment_id]
    assert theirs.list_assessments() == []
    (result,) = mine.get_assessment_results()["events"]
    assert (result["assessmentId"], result["candidateEmail"]) == (assessment_id, ADA["email"])
    assert theirs.get_webhook_events() == {"events": [], "pendingCount": 0}


def test_an_unknown_company_is_refused_at_sign_in_and_at_the_endpoint(served: Served) -> None:
    refused = httpx2.post(f"{served.url}/login", json={
        "name": "Rita", "email": "rita@hire.example", "company": "initech"})
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_company")
    assert "token" not in refused.text

    # A token naming a company without an organisation here never reaches the sandbox.
    token, _ = DevLogin(secret=SECRET).issue(name="Eve", email="eve@hire.example",
                                             company="initech")
    answer = httpx2.post(f"{served.url}/assessment/session", json={"users": [ADA]},
                         headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json()["code"]) == (403, "tenant_unknown")
    assert served.sandbox.recorder.to("/sessions") == []


def test_the_sign_in_page_offers_the_companies(served: Served) -> None:
    page = httpx2.get(f"{served.url}/").text
    assert 'data-testid="signin-company"' in page
    assert '<option value="acme">Acme Recruiting</option>' in page
    assert '<option value="globex">Globex Talent</option>' in page

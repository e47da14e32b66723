"""``ClaimsRecruiterResolver`` built by hand (as the README's hooks section shows): its default
claim names, and a clear error for an empty one."""

from __future__ import annotations

import pytest

from assessment_asgi import ClaimsRecruiterResolver, Recruiter, SessionRequest

BODY = SessionRequest.model_validate({"users": [{"name": "Ada", "email": "ada@example.com"}]})
CLAIMS = {"sub": "rec_1", "email": "rita@hire.example", "recruiter_id": "rec_2", "mail": "r@x.example"}


@pytest.mark.anyio
async def test_the_defaults_read_sub_and_email() -> None:
    assert await ClaimsRecruiterResolver()(CLAIMS, BODY) == Recruiter(id="rec_1", email="rita@hire.example")


@pytest.mark.anyio
async def test_each_claim_name_has_its_own_default() -> None:
    by_id = ClaimsRecruiterResolver(id_claim="recruiter_id")
    assert await by_id(CLAIMS, BODY) == Recruiter(id="rec_2", email="rita@hire.example")
    by_email = ClaimsRecruiterResolver(email_claim="mail")
    assert await by_email(CLAIMS, BODY) == Recruiter(id="rec_1", email="r@x.example")


@pytest.mark.parametrize(
    "names", [{"id_claim": ""}, {"email_claim": ""}, {"id_claim": "", "email_claim": ""}]
)
def test_an_empty_claim_name_is_a_clear_error(names: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="non-empty") as caught:
        ClaimsRecruiterResolver(**names)
    assert str(caught.value) == "id_claim and email_claim must be non-empty claim names"

"""The OpenAPI 3.1 document: valid, built from the real model and error table, merged into FastAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from assessment_asgi import AssessmentApp, openapi_document
from tests._documented import DOCUMENTED_CODES
from tests._fake import USERS

from .conftest import in_process

pytestmark = pytest.mark.anyio


def resolved(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A component schema with its ``$ref``s resolvable by jsonschema."""
    return {**document["components"]["schemas"][name],
            "components": document["components"]}


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document(server_url="/api/assessment", max_users=7)
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/api/assessment"}]


def test_every_error_code_is_documented_under_its_status_with_the_envelope() -> None:
    responses = openapi_document()["paths"]["/session"]["post"]["responses"]
    # Expectations from the README's table (tests/_documented.py), not from ERROR_CODES.
    for code, status in DOCUMENTED_CODES.items():
        response = responses[str(status)]
        schema = response["content"]["application/json"]["schema"]
        assert schema["allOf"][0] == {"$ref": "#/components/schemas/AssessmentError"}
        assert code in schema["allOf"][1]["properties"]["code"]["enum"], code
        assert f"`{code}`: " in response["description"]
    assert set(responses) == {"200"} | {str(s) for s in DOCUMENTED_CODES.values()}
    enums = [r["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"]
             for status, r in responses.items() if status != "200"]
    assert sorted(code for enum in enums for code in enum) == sorted(DOCUMENTED_CODES)
    assert "Retry-After" in responses["429"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]


def test_the_request_schema_accepts_and_refuses_what_the_endpoint_does() -> None:
    document = openapi_document(max_users=2)
    schema = resolved(document, "AssessmentSessionRequest")
    check = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert check.is_valid({"users": USERS[:2], "recruiterId": "rec_42"})
    assert not check.is_valid({"users": []})                     # users_required
    assert not check.is_valid({"users": USERS})                  # over max_users
    assert not check.is_valid({"users": USERS[:1], "extra": 1})  # unknown fields refused
    assert not check.is_valid({"users": [{"name": "A", "email": "not-an-email"}]})
    operation = document["paths"]["/session"]["post"]
    assert operation["security"] == [{"AssessmentBearer": []}]
    assert document["components"]["securitySchemes"]["AssessmentBearer"]["scheme"] == "bearer"


async def test_openapi_json_follows_the_apps_max_users_and_refuses_post(
    make_assessment: Callable[..., AssessmentApp],
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(routes=[Mount("/a", app=make_assessment(max_users=3))])
    async with in_process(app) as client:
        document = (await client.get("/a/openapi.json")).json()
        refused = await client.post("/a/openapi.json")
    users = document["components"]["schemas"]["AssessmentSessionRequest"]["properties"]["users"]
    assert users["maxItems"] == 3
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_fastapi_helper_lists_the_route_in_the_hosts_own_docs(
    make_assessment: Callable[..., AssessmentApp],
) -> None:
    from fastapi import FastAPI

    from assessment_asgi.contrib.fastapi import mount_assessment

    app = FastAPI()

    @app.get("/items")
    async def items() -> list[int]:
        return [1]

    mount_assessment(app, make_assessment(), prefix="/hiring/assessment")
    async with in_process(app, root_path="/api") as client:
        schema = (await client.get("/api/openapi.json")).json()
        again = (await client.get("/api/openapi.json")).json()
    validate(schema)
    assert schema == again  # merged once, not on every call
    assert set(schema["paths"]) == {"/items", "/hiring/assessment/session"}
    assert schema["paths"]["/hiring/assessment/session"]["post"]["operationId"] == "createAssessmentSession"
    assert "AssessmentSessionRequest" in schema["components"]["schemas"]
    assert schema["servers"] == [{"url": "/api"}]


def test_fastapi_helper_can_leave_the_schema_alone(make_assessment: Callable[..., AssessmentApp]) -> None:
    from fastapi import FastAPI

    from assessment_asgi.contrib.fastapi import mount_assessment

    app = FastAPI()
    mount_assessment(app, make_assessment(), include_in_schema=False)
    assert "/assessment/session" not in app.openapi().get("paths", {})

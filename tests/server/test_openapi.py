"""/openapi.json describes what the server really answers, checked by schemathesis over a
real loopback socket, and /docs works with no network."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import imagegate
from imagegate import ChatModel, Model, Provider
from imagegate.server import create_app
from tests.emulators.server import ServerThread
from tests.fakes import FakePlugin

from .conftest import OTHER_PROVIDER

# A stand-in for the default model, so a body without `model` is answered too.
DEFAULT = Provider(
    id="huggingface", display_name="Spaces", model_prefix="hf", auth_prefix="hf", auth="optional"
)


class DefaultModel(FakePlugin):
    """The default image model, and a chat model that echoes (plain and streamed)."""

    @imagegate.hookimpl
    def list_models(self):
        return [
            Model(id="z-image-turbo", display_name="Z", provider=DEFAULT, family="z-image-turbo")
        ]

    @imagegate.hookimpl
    def list_chat_models(self):
        return [ChatModel(id="echo", display_name="Echo", provider=DEFAULT)]

    @imagegate.hookimpl
    def chat(self, request, model, token, context):
        answer = {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": model.id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
        }

        async def complete():
            return answer

        return complete()


def serving_gate() -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[FakePlugin(), FakePlugin(provider=OTHER_PROVIDER), DefaultModel(DEFAULT)],
        use_stored_tokens=False,
        retries=0,
    )


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    server = ServerThread(create_app(serving_gate(), timeout=20)).start()
    yield server.url
    server.stop()


@pytest.fixture
def document(api_url) -> dict:
    return httpx.get(f"{api_url}/openapi.json").json()


# The description as the app publishes it; the cases go to the app on a loopback socket.
schema = schemathesis.openapi.from_dict(create_app(serving_gate()).openapi())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_one_the_description_promises(case, api_url):
    case.call_and_validate(base_url=api_url, checks=CHECKS)


# -- the description itself ----------------------------------------------------------------


def test_a_failover_answer_and_a_family_entry_are_described_too(api_url):
    """The fields only failover adds (`chain`, a family's `members`) are in the schema."""
    answer = httpx.post(
        f"{api_url}/v1/images/generations",
        json={"model": "any/z-image-turbo", "prompt": "a cat", "size": "256x256"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["chain"]
    schema["/v1/images/generations"]["POST"].validate_response(answer)
    family = httpx.get(f"{api_url}/v1/models/any/z-image-turbo")
    assert family.json()["members"]
    schema["/v1/models/{model_id}"]["GET"].validate_response(family)


def test_a_chat_answer_plain_or_streamed_is_described(api_url):
    schema_of_chat = schema["/v1/chat/completions"]["POST"]
    body = {"model": "hf/echo", "messages": [{"role": "user", "content": "hello"}]}
    answer = httpx.post(f"{api_url}/v1/chat/completions", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "hf/echo"
    schema_of_chat.validate_response(answer)
    streamed = httpx.post(
        f"{api_url}/v1/chat/completions", json={**body, "stream": True}, timeout=30
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.rstrip().endswith("data: [DONE]")
    for wrong, status in [
        ({**body, "model": "hf/nope"}, 404),
        ({**body, "messages": []}, 400),
    ]:
        refused = httpx.post(f"{api_url}/v1/chat/completions", json=wrong, timeout=30)
        assert refused.status_code == status, refused.text
        schema_of_chat.validate_response(refused)
    as_text = httpx.post(
        f"{api_url}/v1/chat/completions", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415
    listed = httpx.get(f"{api_url}/v1/models")
    assert {entry["type"] for entry in listed.json()["data"]} == {"image", "chat"}
    schema["/v1/models"]["GET"].validate_response(listed)
    chat_entry = httpx.get(f"{api_url}/v1/models/hf/echo")
    assert chat_entry.json()["type"] == "chat"
    schema["/v1/models/{model_id}"]["GET"].validate_response(chat_entry)


def test_no_route_promises_a_422(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], f"{method} {path}"
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_each_route_lists_every_status_it_returns_with_the_error_schema(document):
    expected = {
        ("post", "/v1/images/generations"): {
            *("200", "202"),  # an answer, or a job (Prefer: respond-async)
            *("400", "401", "403", "404", "408", "409", "410", "413", "415", "429", "431"),
            *("500", "502", "503", "504"),
        },
        ("post", "/v1/chat/completions"): {
            "200",
            *("400", "401", "403", "404", "408", "413", "415", "429", "431", "502", "503"),
            "504",
        },
        ("get", "/v1/images/jobs/{job_id}"): {"200", "401", "404", "503"},
        ("delete", "/v1/images/jobs/{job_id}"): {"200", "401", "404", "409", "429", "503"},
        ("get", "/v1/images/jobs/{job_id}/events"): {"200", "401", "404", "503"},
        ("get", "/v1/models"): {"200", "401", "429"},
        ("get", "/v1/models/{model_id}"): {"200", "401", "404", "429"},
        ("get", "/v1/images/files/{name}"): {"200", "404", "503"},
        ("get", "/v1/images/history"): {"200", "401", "403", "429", "503"},
        ("get", "/v1/images/history/{record_id}"): {"200", "401", "403", "404", "429", "503"},
        ("get", "/health"): {"200", "503"},
    }
    found = {
        (method, path): set(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert found == expected
    for (method, path), statuses in found.items():
        for status in statuses - {"200", "202"} - ({"503"} if path == "/health" else set()):
            content = document["paths"][path][method]["responses"][status]["content"]
            ref = content["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorResponse", (method, path, status)
    too_many = document["paths"]["/v1/images/generations"]["post"]["responses"]["429"]
    assert "Retry-After" in too_many["headers"]
    answers = document["paths"]["/v1/images/generations"]["post"]["responses"]
    assert {"application/json", "text/event-stream"} <= set(answers["200"]["content"])
    job = answers["202"]["content"]["application/json"]["schema"]["$ref"]
    assert job == "#/components/schemas/JobObject"


def test_the_request_body_carries_its_constraints(document):
    post = document["paths"]["/v1/images/generations"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    fields = body["properties"]
    assert body["required"] == ["prompt"] and body["additionalProperties"] is False
    prompt = fields["prompt"]
    assert (prompt["minLength"], prompt["maxLength"], prompt["pattern"]) == (1, 4000, r"\S")
    n = next(kind for kind in fields["n"]["anyOf"] if kind["type"] == "integer")
    assert (n["minimum"], n["maximum"]) == (1, 10)
    size = next(kind for kind in fields["size"]["anyOf"] if kind["type"] == "string")
    for good in ("1024x768", "16:9", "auto", "512 x 512"):
        assert re.search(size["pattern"], good), good
    for bad in ("big", "5:4", "1024", "16:9:1"):
        assert not re.search(size["pattern"], bad), bad
    assert {"num_inference_steps", "cfg_scale"} <= set(fields)  # the aliases it takes


@pytest.mark.anyio
async def test_the_body_limits_in_the_description_are_the_servers(client, fake):
    """What the description forbids, the server refuses, with the field named."""
    for body, param in [
        ({"prompt": " \t"}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": "a cat", "n": 11}, "n"),
        ({"prompt": "a cat", "size": "big"}, "size"),
        ({"prompt": "a cat", "size": ""}, "size"),
    ]:
        response = await client.post("/v1/images/generations", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == param
    assert fake.calls == []


# -- /docs without a network ---------------------------------------------------------------


def test_the_docs_page_loads_its_assets_from_this_server(api_url):
    page = httpx.get(f"{api_url}/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    scripts = [a for a in assets if a.endswith((".js", ".css"))]
    assert scripts, page.text
    for asset in scripts:
        assert asset.startswith("/"), f"{asset} needs the network"
        loaded = httpx.get(f"{api_url}{asset}")
        assert loaded.status_code == 200 and len(loaded.content) > 10_000, asset
    assert "cdn" not in page.text.lower()
    assert "/openapi.json" in page.text


def test_the_redoc_page_needs_no_network_either(api_url):
    page = httpx.get(f"{api_url}/redoc")
    assert page.status_code == 200
    for asset in re.findall(r"""src=["']([^"']+)["']""", page.text):
        assert asset.startswith("/"), asset
        assert httpx.get(f"{api_url}{asset}").status_code == 200
    assert "fonts.googleapis" not in page.text

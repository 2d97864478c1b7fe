"""Every field of POST /v1/images/generations, validated in-process (ASGI transport)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

GOOD = {"model": "fake/basic", "prompt": "a cute cat"}


def error_of(response) -> dict:
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"n": 0}, "n"),
        ({"n": 11}, "n"),
        ({"n": "2"}, "n"),
        ({"n": 1.5}, "n"),
        ({"n": True}, "n"),
        ({"size": "big"}, "size"),
        ({"size": "100x100"}, "size"),
        ({"size": "4096x1024"}, "size"),
        ({"size": "5:4"}, "size"),
        ({"size": 1024}, "size"),
        ({"response_format": "png"}, "response_format"),
        ({"response_format": None, "quality": 3}, "quality"),
        ({"style": ["vivid"]}, "style"),
        ({"user": 42}, "user"),
        ({"steps": 0}, "steps"),
        ({"steps": 51}, "steps"),
        ({"steps": "9"}, "steps"),
        ({"num_inference_steps": 99}, "steps"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**31}, "seed"),
        ({"seed": "42"}, "seed"),
        ({"guidance_scale": 21}, "guidance_scale"),
        ({"cfg_scale": -1}, "guidance_scale"),
        ({"guidance_scale": "high"}, "guidance_scale"),
        ({"negative_prompt": 5}, "negative_prompt"),
        ({"model": 5}, "model"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n\t"}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": 123}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"negative_promt": "typo"}, "negative_promt"),
        ({"stream": "yes"}, "stream"),
        ({"stream": True, "partial_images": 4}, "partial_images"),
        ({"stream": True, "partial_images": -1}, "partial_images"),
        ({"stream": True, "n": 5}, "n"),
        ({"stream": True, "size": "100x100"}, "size"),
        ({"width": "wide"}, "width"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(client, fake, changes, param):
    body = {**GOOD, **changes}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]
    assert fake.calls == []  # nothing reached the provider


async def test_a_missing_prompt_is_a_400(client):
    response = await client.post("/v1/images/generations", json={"model": "fake/basic"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "prompt"


async def test_the_longest_prompt_allowed_is_accepted(client):
    response = await client.post("/v1/images/generations", json={**GOOD, "prompt": "x" * 4000})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "raw",
    [b"{bad json", b"", b"[]", b'"a string"', b"null", b'{"prompt": "cat",}', b"\xff\xfe"],
)
async def test_a_body_that_is_not_a_json_object_is_a_400(client, raw):
    response = await client.post(
        "/v1/images/generations", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert error_of(response)["type"] == "invalid_request_error"


async def test_a_body_over_the_cap_is_a_413(client, fake):
    body = {**GOOD, "negative_prompt": "x" * (70 * 1024)}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 413
    error = error_of(response)
    assert "KB" in error["message"] and error["code"] == "BODY_TOO_LARGE"
    assert fake.calls == []


async def test_a_streamed_body_over_the_cap_is_a_413(client):
    async def chunks():
        yield b'{"prompt": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = await client.post(
        "/v1/images/generations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_body_not_sent_as_json_is_a_415(client, fake, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        "/v1/images/generations", content=b'{"prompt": "a cat"}', headers=headers
    )
    assert response.status_code == 415
    error = error_of(response)
    assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type: application/json" in error["message"]
    assert fake.calls == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.api+json",
    ],
)
async def test_json_and_plus_json_bodies_are_taken(client, content_type):
    response = await client.post(
        "/v1/images/generations",
        content=b'{"model": "fake/basic", "prompt": "a cat"}',
        headers={"content-type": content_type},
    )
    assert response.status_code == 200, response.text


async def test_an_unknown_model_is_a_404_and_never_substituted(client, fake):
    response = await client.post(
        "/v1/images/generations", json={**GOOD, "model": "fake/no-such-model"}
    )
    assert response.status_code == 404
    error = error_of(response)
    assert error["param"] == "model"
    assert "fake/no-such-model" in error["message"]
    assert fake.calls == []


async def test_a_token_prefix_for_another_provider_is_a_400(client, fake):
    response = await client.post(
        "/v1/images/generations", json=GOOD, headers={"Authorization": "Bearer ot:token-1234"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "authorization"
    assert "token-1234" not in response.text
    assert fake.calls == []


async def test_a_non_bearer_authorization_is_a_401(client):
    response = await client.post(
        "/v1/images/generations", json=GOOD, headers={"Authorization": "Basic dXNlcjpwdw=="}
    )
    assert response.status_code == 401
    assert error_of(response)["type"] == "authentication_error"


async def test_wrong_http_method_and_unknown_route_use_the_envelope(client):
    for response in (
        await client.get("/v1/images/generations"),
        await client.get("/v1/nothing-here"),
    ):
        assert response.status_code in (404, 405)
        assert error_of(response)["message"]
        assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/images/generations", "POST"),
        ("PUT", "/v1/images/generations", "POST"),
        ("POST", "/v1/models", "GET"),
        ("DELETE", "/v1/models/fake/basic", "GET"),
        ("POST", "/health", "GET"),
    ],
)
async def test_a_405_says_which_methods_the_route_takes(client, method, path, allowed):
    response = await client.request(method, path)
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {allowed}
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "METHOD_NOT_ALLOWED")
    assert allowed in error["message"]


async def test_404_types_are_the_documented_ones(client):
    """docs/server.md: every 404 is `invalid_request_error`, as OpenAI's own."""
    route = error_of(await client.get("/v1/nothing-here"))
    image = error_of(await client.get("/v1/images/files/expired.png"))
    model = error_of(await client.get("/v1/models/fake/nothing"))
    assert {route["type"], image["type"], model["type"]} == {"invalid_request_error"}
    assert (route["code"], image["code"], model["code"]) == (
        "NOT_FOUND",
        "NOT_FOUND",
        "INVALID_MODEL",
    )

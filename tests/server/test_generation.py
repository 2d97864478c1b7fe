"""What a caller gets back, and what reaches the provider (in-process)."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

import imagegate
from imagegate import errors
from imagegate.server import create_app
from tests.fakes import FakePlugin, png_bytes

pytestmark = pytest.mark.anyio

GOOD = {"model": "fake/basic", "prompt": "a cute cat"}


async def test_url_answers_point_at_the_image_bytes(client):
    response = await client.post("/v1/images/generations", json={**GOOD, "n": 2, "seed": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "fake/basic"
    assert isinstance(body["created"], int)
    assert [item["seed"] for item in body["data"]] == [7, 8]
    for item, shade in zip(body["data"], (7, 8), strict=True):
        assert item["url"].startswith("http://imagegate.test/v1/images/files/")
        image = await client.get(item["url"])
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.content == png_bytes(8, 8, shade)


async def test_b64_json_answers_carry_the_image(client):
    body = {**GOOD, "response_format": "b64_json", "seed": 3}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 200
    (item,) = response.json()["data"]
    assert "url" not in item
    assert base64.b64decode(item["b64_json"]) == png_bytes(8, 8, 3)


async def test_extensions_and_aliases_reach_the_provider(client, fake):
    body = {
        **GOOD,
        "negative_prompt": "blurry",
        "num_inference_steps": 12,
        "cfg_scale": 4.5,
        "seed": 42,
        "size": "512x768",
        "user": "end-user-1",
    }
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 200
    sent = fake.calls[0]["request"]
    assert (sent.negative_prompt, sent.steps, sent.guidance_scale, sent.seed) == (
        "blurry",
        12,
        4.5,
        42,
    )
    assert (sent.width, sent.height) == (512, 768)
    assert response.json()["data"][0]["seed"] == 42


async def test_ignored_values_come_back_as_warnings(client):
    body = {"model": "fake/plain", "prompt": "cat", "steps": 5, "output_format": "webp"}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 200
    warnings = response.json()["warnings"]
    assert any(w.startswith("steps ignored") for w in warnings)
    assert any(w.startswith("output_format ignored") for w in warnings)


async def test_quality_hd_asks_for_more_steps(client, fake):
    response = await client.post("/v1/images/generations", json={**GOOD, "quality": "hd"})
    assert response.status_code == 200
    assert fake.calls[0]["request"].steps == 30


async def test_size_auto_means_the_model_default(client, fake):
    response = await client.post("/v1/images/generations", json={**GOOD, "size": "auto"})
    assert response.status_code == 200
    assert (fake.calls[0]["request"].width, fake.calls[0]["request"].height) == (1024, 1024)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("Bearer fk:tok-11111111", "tok-11111111"),
        ("Bearer tok-22222222", "tok-22222222"),
        ("bearer fake:tok-33333333", "tok-33333333"),
        ("Bearer fk:", None),
    ],
)
async def test_the_bearer_token_goes_to_the_models_provider(client, fake, header, token):
    headers = {"Authorization": header} if header else {}
    response = await client.post("/v1/images/generations", json=GOOD, headers=headers)
    assert response.status_code == 200
    assert fake.calls[0]["token"] == token


async def test_comma_separated_tokens_rotate_on_quota(client, fake):
    fake.failures.append(errors.QuotaExceeded("daily quota spent", provider="fake"))
    headers = {"Authorization": "Bearer fk:first-token-1,fk:second-token-2"}
    response = await client.post("/v1/images/generations", json=GOOD, headers=headers)
    assert response.status_code == 200
    assert [call["token"] for call in fake.calls] == ["first-token-1", "second-token-2"]


async def test_an_open_server_never_uses_stored_tokens(monkeypatch):
    monkeypatch.setenv("IMAGEGATE_FAKE_TOKEN", "stored-secret-1")
    app = create_app()
    assert app.state.gate.use_stored_tokens is False
    assert create_app(api_key="k").state.gate.use_stored_tokens is True


async def test_a_protected_server_wants_its_key_and_uses_its_own_tokens(monkeypatch, fake):
    import httpx

    monkeypatch.setenv("IMAGEGATE_FAKE_TOKEN", "stored-secret-1")
    gate = imagegate.Gate(plugins=[fake], use_stored_tokens=True)
    app = create_app(gate, api_key="server-key")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        missing = await client.post("/v1/images/generations", json=GOOD)
        wrong = await client.post(
            "/v1/images/generations", json=GOOD, headers={"Authorization": "Bearer nope"}
        )
        models = await client.get("/v1/models")
        assert [missing.status_code, wrong.status_code, models.status_code] == [401, 401, 401]
        assert fake.calls == []
        assert "stored-secret-1" not in wrong.text

        good = {"Authorization": "Bearer server-key"}
        response = await client.post("/v1/images/generations", json=GOOD, headers=good)
        assert response.status_code == 200
        assert fake.calls[-1]["token"] == "stored-secret-1"

        own = {**good, "X-Imagegate-Token": "fk:callers-own-1"}
        response = await client.post("/v1/images/generations", json=GOOD, headers=own)
        assert response.status_code == 200
        assert fake.calls[-1]["token"] == "callers-own-1"
        assert (await client.get("/health")).status_code == 200


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (errors.AuthInvalid("the token was refused"), 401, "AUTH_INVALID"),
        (errors.PermissionDenied("not allowed"), 403, "PERMISSION_DENIED"),
        (errors.QuotaExceeded("daily quota spent"), 429, "insufficient_quota"),
        (errors.RateLimited("slow down", retry_after=7), 429, "RATE_LIMITED"),
        (errors.ProviderError("upstream broke"), 502, "PROVIDER_ERROR"),
        (errors.GenerationFailed("filtered"), 500, "GENERATION_FAILED"),
        (errors.Timeout("too slow"), 504, "TIMEOUT"),
    ],
)
async def test_provider_failures_map_to_openai_statuses(client, fake, failure, status, code):
    fake.failures.append(failure)
    response = await client.post("/v1/images/generations", json=GOOD)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["x-request-id"]
    if status == 429:
        assert int(response.headers["retry-after"]) >= 1
    if code == "RATE_LIMITED":
        assert response.headers["retry-after"] == "7"


async def test_the_overall_deadline_gives_a_504(fake):
    import httpx

    slow = FakePlugin(delay=30)
    app = create_app(imagegate.Gate(plugins=[slow], retries=0), timeout=0.2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/v1/images/generations", json=GOOD)
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout_error"


async def test_unknown_and_expired_files_are_404(client):
    response = await client.get("/v1/images/files/not-a-real-id.png")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_every_response_has_a_request_id_and_keeps_a_plain_incoming_one(client):
    response = await client.get("/health", headers={"x-request-id": "trace-abc.123"})
    assert response.headers["x-request-id"] == "trace-abc.123"
    response = await client.get("/health", headers={"x-request-id": "bad id\x7f"})
    assert response.headers["x-request-id"] != "bad id\x7f"
    ids = {(await client.get("/")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_one_log_line_per_request_without_tokens(client, caplog):
    caplog.set_level(logging.INFO, logger="imagegate.server")
    headers = {"Authorization": "Bearer fk:very-secret-token"}
    response = await client.post("/v1/images/generations", json=GOOD, headers=headers)
    lines = [r.getMessage() for r in caplog.records if r.name == "imagegate.server"]
    assert len(lines) == 1
    (line,) = lines
    assert "POST /v1/images/generations" in line
    assert "model=fake/basic" in line
    assert "status=200" in line
    assert "duration_ms=" in line
    assert response.headers["x-request-id"] in line
    assert "very-secret-token" not in caplog.text


async def test_health_and_root(client):
    assert (await client.get("/")).json() == {"status": "ok"}
    health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert "fake" in health["providers"]


SECURE = imagegate.Provider(
    id="secure",
    display_name="Secure",
    model_prefix="sec",
    auth_prefix="sk",
    auth="required",
    key_url="https://example.test/keys",
)


async def test_a_missing_token_says_how_to_send_one_over_http():
    gate = imagegate.Gate(plugins=[FakePlugin(provider=SECURE)], use_stored_tokens=False)
    transport = httpx.ASGITransport(app=create_app(gate))
    async with httpx.AsyncClient(transport=transport, base_url="http://imagegate.test") as c:
        response = await c.post("/v1/images/generations", json={**GOOD, "model": "sec/basic"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "AUTH_REQUIRED"
    assert "send `Authorization: Bearer sk:<token>`" in error["message"]
    assert "https://example.test/keys" in error["message"]
    assert "--token" not in error["message"]  # a CLI hint means nothing to an HTTP caller


async def test_a_protected_server_without_a_stored_token_says_how_to_send_ones_own():
    gate = imagegate.Gate(plugins=[FakePlugin(provider=SECURE)], use_stored_tokens=True)
    transport = httpx.ASGITransport(app=create_app(gate, api_key="server-key"))
    async with httpx.AsyncClient(transport=transport, base_url="http://imagegate.test") as c:
        response = await c.post(
            "/v1/images/generations",
            json={**GOOD, "model": "sec/basic"},
            headers={"Authorization": "Bearer server-key"},
        )
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "X-Imagegate-Token: sk:<token>" in message
    # storing a token on the server is its owner's business, not the caller's
    assert "IMAGEGATE_SECURE_TOKEN" not in message and "imagegate keys" not in message

"""The A4F emulator against protocols.md section 1, with plain httpx (no plugin code)."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from tests.emulators.a4f import FREE_PLAN_TOKEN, MODEL_MAX_N
from tests.emulators.control import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    QUOTA_TOKEN,
    RATE_LIMIT_TOKEN,
    VALID_TOKEN,
)

MODELS = [
    "provider-4/imagen-3.5",
    "provider-4/imagen-4",
    "provider-8/imagen-3",
    "provider-4/flux-schnell",
    "provider-8/z-image",
]


def post(emulator, body, token: str | None = VALID_TOKEN, timeout: float = 10) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        f"{emulator.base_url}/images/generations", json=body, headers=headers, timeout=timeout
    )


def body(**overrides):
    return {
        "model": "provider-4/imagen-4",
        "prompt": "a cute cat",
        "n": 1,
        "size": "512x384",
        "response_format": "url",
        **overrides,
    }


def assert_error_shape(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return error


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_base_url_is_the_v1_root(a4f_emulator):
    assert a4f_emulator.base_url == a4f_emulator.root_url + "/v1"
    assert a4f_emulator.env == {"IMAGEGATE_A4F_BASE_URL": a4f_emulator.base_url}


@pytest.mark.parametrize("model", MODELS)
def test_url_answer_serves_a_png_of_the_requested_size(a4f_emulator, model):
    response = post(a4f_emulator, body(model=model))
    assert response.status_code == 200
    answer = response.json()
    assert isinstance(answer["created"], int)
    [item] = answer["data"]
    assert item["url"].startswith(a4f_emulator.base_url + "/images/serve/")
    image = httpx.get(item["url"], timeout=10)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert png_size(image.content) == (512, 384)


def test_b64_json_answer_carries_the_png_itself(a4f_emulator):
    response = post(a4f_emulator, body(response_format="b64_json", size="256x256"))
    [item] = response.json()["data"]
    assert "url" not in item
    assert png_size(base64.b64decode(item["b64_json"])) == (256, 256)


def test_n_images_in_one_answer_and_default_size(a4f_emulator):
    response = post(a4f_emulator, {"model": "provider-4/imagen-3.5", "prompt": "dog", "n": 3})
    data = response.json()["data"]
    assert len(data) == 3
    contents = [httpx.get(item["url"], timeout=10).content for item in data]
    assert {png_size(c) for c in contents} == {(1024, 1024)}
    assert len(set(contents)) == 3  # three different images


def test_same_prompt_gives_the_same_pixels(a4f_emulator):
    first = post(a4f_emulator, body(response_format="b64_json")).json()["data"][0]
    second = post(a4f_emulator, body(response_format="b64_json")).json()["data"][0]
    other = post(a4f_emulator, body(prompt="a dog", response_format="b64_json")).json()
    assert first["b64_json"] == second["b64_json"] != other["data"][0]["b64_json"]


def test_records_the_exact_wire_request(a4f_emulator):
    httpx.post(
        f"{a4f_emulator.base_url}/images/generations",
        json=body(),
        headers={"Authorization": f"Bearer {VALID_TOKEN}", "X-Test": "1"},
        timeout=10,
    )
    [recorded] = a4f_emulator.requests
    assert recorded.method == "POST"
    assert recorded.path == "/v1/images/generations"
    assert recorded.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert recorded.headers["x-test"] == "1"
    assert recorded.json == body()


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), (INVALID_TOKEN, 401), (EXPIRED_TOKEN, 401), ("short", 401)],
)
def test_bad_or_missing_key_is_401(a4f_emulator, token, status):
    error = assert_error_shape(post(a4f_emulator, body(), token=token), status)
    assert error["type"] == "invalid_request_error"


def test_quota_token_gets_the_daily_free_tier_429(a4f_emulator):
    error = assert_error_shape(post(a4f_emulator, body(), token=QUOTA_TOKEN), 429)
    assert "daily free tier" in error["message"].lower()
    assert "exceeded" in error["message"]


def test_rate_limit_token_gets_429_with_retry_after(a4f_emulator):
    response = post(a4f_emulator, body(), token=RATE_LIMIT_TOKEN)
    error = assert_error_shape(response, 429)
    assert "rate limit" in error["message"].lower()
    assert float(response.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("imagen-4", 400, "invalid_model"),
        ("dall-e-3", 400, "invalid_model"),
        ("provider-4/no-such-model", 404, "model_not_found"),
    ],
)
def test_model_needs_its_provider_prefix_and_must_exist(a4f_emulator, model, status, code):
    error = assert_error_shape(post(a4f_emulator, body(model=model)), status)
    assert error["param"] == "model"
    assert error["code"] == code
    if code == "invalid_model":
        assert "provider prefix" in error["message"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"prompt": "  "}, "prompt"),
        ({"n": 0}, "n"),
        ({"n": 11}, "n"),
        ({"n": "2"}, "n"),
        ({"size": "big"}, "size"),
        ({"size": "1024x99999"}, "size"),
        ({"response_format": "png"}, "response_format"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(a4f_emulator, change, param):
    error = assert_error_shape(post(a4f_emulator, body(**change)), 400)
    assert error["param"] == param


def test_body_that_is_not_json_is_400(a4f_emulator):
    response = httpx.post(
        f"{a4f_emulator.base_url}/images/generations",
        content=b"not json",
        headers={"Authorization": f"Bearer {VALID_TOKEN}"},
        timeout=10,
    )
    assert_error_shape(response, 400)


def test_scripted_status_uses_the_error_shape_then_recovers(a4f_emulator):
    a4f_emulator.script("status", times=2, status=503, message="upstream overloaded")
    for _ in range(2):
        error = assert_error_shape(post(a4f_emulator, body()), 503)
        assert error["message"] == "upstream overloaded"
    assert post(a4f_emulator, body()).status_code == 200


@pytest.mark.parametrize(
    ("variant", "status", "words"),
    [
        ("daily", 429, "daily free tier"),
        ("payment", 402, "insufficient"),
        ("insufficient", 403, "insufficient"),
    ],
)
def test_scripted_quota_variants(a4f_emulator, variant, status, words):
    a4f_emulator.script("quota", variant=variant)
    error = assert_error_shape(post(a4f_emulator, body()), status)
    assert words in error["message"].lower()


def test_scripted_rate_limit_carries_retry_after(a4f_emulator):
    a4f_emulator.script("rate_limit", retry_after=7)
    response = post(a4f_emulator, body())
    assert_error_shape(response, 429)
    assert response.headers["retry-after"] == "7"


def test_scripted_malformed_json_is_a_200_that_does_not_parse(a4f_emulator):
    a4f_emulator.script("malformed_json")
    response = post(a4f_emulator, body())
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("absent", lambda answer: "data" not in answer),
        ("empty", lambda answer: answer["data"] == []),
        ("no_image", lambda answer: not {"url", "b64_json"} & set(answer["data"][0])),
    ],
)
def test_scripted_missing_data(a4f_emulator, variant, check):
    a4f_emulator.script("missing_data", variant=variant)
    response = post(a4f_emulator, body())
    assert response.status_code == 200
    assert check(response.json())


def test_scripted_partial_batch_returns_fewer_images(a4f_emulator):
    a4f_emulator.script("partial", count=2)
    assert len(post(a4f_emulator, body(n=4)).json()["data"]) == 2
    assert len(post(a4f_emulator, body(n=4)).json()["data"]) == 4


def test_scripted_truncated_image_serves_half_the_bytes(a4f_emulator):
    url = post(a4f_emulator, body()).json()["data"][0]["url"]
    whole = httpx.get(url, timeout=10).content
    a4f_emulator.script("truncated_image")
    cut = httpx.get(url, timeout=10).content
    assert whole.startswith(cut) and len(cut) == len(whole) // 2
    assert httpx.get(url, timeout=10).content == whole


def test_unknown_image_is_404(a4f_emulator):
    response = httpx.get(f"{a4f_emulator.base_url}/images/serve/nope", timeout=10)
    assert_error_shape(response, 404)


def test_scripted_and_standing_delays_slow_the_answer(a4f_emulator):
    a4f_emulator.script("delay", seconds=0.3)
    with pytest.raises(httpx.ReadTimeout):
        post(a4f_emulator, body(), timeout=0.1)
    a4f_emulator.control.delay = 0.3
    with pytest.raises(httpx.ReadTimeout):
        post(a4f_emulator, body(), timeout=0.1)
    a4f_emulator.control.delay = 0.0
    assert post(a4f_emulator, body()).status_code == 200


def test_control_api_over_http(a4f_emulator):
    root = a4f_emulator.root_url
    httpx.post(f"{root}/_control/script", json={"kind": "status", "params": {"status": 500}})
    assert post(a4f_emulator, body()).status_code == 500
    logged = httpx.get(f"{root}/_control/requests").json()
    assert logged[-1]["json"]["model"] == "provider-4/imagen-4"


def test_usage_needs_a_key_and_reports_limits(a4f_emulator):
    url = f"{a4f_emulator.base_url}/usage"
    assert_error_shape(httpx.get(url, timeout=10), 401)
    answer = httpx.get(url, headers={"Authorization": f"Bearer {VALID_TOKEN}"}, timeout=10).json()
    assert answer["account_information"]["plan"] in {"free", "basic", "pro"}
    assert {"rpm", "rpd"} <= set(answer["rate_limits"])


@pytest.mark.parametrize(("model", "most"), sorted(MODEL_MAX_N.items()))
def test_each_upstream_takes_its_own_number_of_images_per_call(a4f_emulator, model, most):
    assert len(post(a4f_emulator, body(model=model, n=most)).json()["data"]) == most
    error = assert_error_shape(post(a4f_emulator, body(model=model, n=most + 1)), 400)
    assert error["param"] == "n" and f"at most {most}" in error["message"]


def test_a_free_plan_key_is_refused_a_paid_model_with_403_but_not_others(a4f_emulator):
    error = assert_error_shape(post(a4f_emulator, body(), token=FREE_PLAN_TOKEN), 403)
    assert error["type"] == "permission_error" and "plan" in error["message"]
    other = post(a4f_emulator, body(model="provider-4/imagen-3.5"), token=FREE_PLAN_TOKEN)
    assert other.status_code == 200


def test_scripted_timeout_is_408(a4f_emulator):
    a4f_emulator.script("timeout")
    error = assert_error_shape(post(a4f_emulator, body()), 408)
    assert error["type"] == "timeout_error"
    assert post(a4f_emulator, body()).status_code == 200

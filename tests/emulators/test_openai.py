"""The OpenAI-compatible emulator (OpenAI's API at /v1, a self-hosted server at /local/v1)
answers as the real services do, checked with plain httpx and the official SDK."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from tests.emulators.chat import ENHANCED_SUFFIX
from tests.emulators.control import INVALID_TOKEN, QUOTA_TOKEN, VALID_TOKEN

AUTH = {"Authorization": f"Bearer {VALID_TOKEN}"}


def post(emulator, body, path="/v1/images/generations", token=VALID_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{emulator.root_url}{path}", json=body, headers=headers, timeout=20)


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def sdk(emulator, base="/v1", key=VALID_TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{emulator.root_url}{base}", api_key=key, max_retries=0)


def test_gpt_image_answers_base64_in_the_asked_format_with_its_settings(openai_emulator):
    answer = post(
        openai_emulator,
        {
            "model": "gpt-image-2",
            "prompt": "a cat",
            "size": "1536x864",
            "quality": "low",
            "output_format": "webp",
            "output_compression": 50,
            "background": "opaque",
            "n": 2,
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["output_format"], body["quality"], body["size"]) == ("webp", "low", "1536x864")
    assert "usage" in body and len(body["data"]) == 2
    with Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"]))) as image:
        assert (image.format, image.size) == ("WEBP", (1536, 864))


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("response_format", "url", "unknown_parameter"),
        ("style", "vivid", "unknown_parameter"),
        ("steps", 9, "unknown_parameter"),
        ("negative_prompt", "blurry", "unknown_parameter"),
        ("quality", "hd", "invalid_value"),
        ("background", "clear", "invalid_value"),
        ("output_format", "gif", "invalid_value"),
        ("moderation", "none", "invalid_value"),
        ("n", 11, "invalid_value"),
    ],
)
def test_openai_refuses_what_a_gpt_image_model_does_not_take(openai_emulator, field, value, code):
    error = error_of(
        post(openai_emulator, {"model": "gpt-image-2", "prompt": "a cat", field: value}), 400
    )
    assert (error["param"], error["code"], error["type"]) == (field, code, "invalid_request_error")


def test_its_wording_is_openais(openai_emulator):
    unknown = error_of(
        post(openai_emulator, {"model": "gpt-image-2", "prompt": "x", "steps": 4}), 400
    )
    assert unknown["message"] == "Unknown parameter: 'steps'."
    invalid = error_of(
        post(openai_emulator, {"model": "gpt-image-1.5", "prompt": "x", "size": "512x512"}), 400
    )
    assert invalid["message"] == (
        "Invalid value: '512x512'. Supported values are: '1024x1024', '1536x1024', "
        "'1024x1536', and 'auto'."
    )


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ("1024x1024", True),
        ("3840x2160", True),
        ("1000x1000", False),  # not multiples of 16
        ("3840x1024", False),  # wider than 3:1
        ("512x512", False),  # under 655,360 pixels
        ("auto", True),
    ],
)
def test_gpt_image_2_size_rules(openai_emulator, size, ok):
    answer = post(openai_emulator, {"model": "gpt-image-2", "prompt": "a cat", "size": size})
    assert (answer.status_code == 200) is ok, answer.text


def test_compression_needs_jpeg_or_webp_and_transparency_png_or_webp(openai_emulator):
    base = {"model": "gpt-image-1.5", "prompt": "a cat"}
    assert error_of(post(openai_emulator, {**base, "output_compression": 50}), 400)["param"] == (
        "output_compression"
    )
    transparent_jpeg = {**base, "background": "transparent", "output_format": "jpeg"}
    assert error_of(post(openai_emulator, transparent_jpeg), 400)["param"] == "background"


def test_retired_and_unknown_models_are_404(openai_emulator):
    for model in ("dall-e-3", "gpt-image-1", "nope"):
        error = error_of(post(openai_emulator, {"model": model, "prompt": "x"}), 404)
        assert error["code"] == "model_not_found"


def test_keys_and_quota_answer_as_openai_does(openai_emulator):
    missing = error_of(
        post(openai_emulator, {"model": "gpt-image-2", "prompt": "x"}, token=None), 401
    )
    assert "You didn't provide an API key" in missing["message"]
    bad = error_of(
        post(openai_emulator, {"model": "gpt-image-2", "prompt": "x"}, token=INVALID_TOKEN), 401
    )
    assert bad["code"] == "invalid_api_key" and INVALID_TOKEN not in bad["message"]
    spent = error_of(
        post(openai_emulator, {"model": "gpt-image-2", "prompt": "x"}, token=QUOTA_TOKEN), 429
    )
    assert spent["code"] == "insufficient_quota"
    openai_emulator.script("rate_limit", retry_after=3)
    limited = post(openai_emulator, {"model": "gpt-image-2", "prompt": "x"})
    assert error_of(limited, 429)["code"] == "rate_limit_exceeded"
    assert limited.headers["retry-after"] == "3"


def test_the_self_hosted_server_takes_extensions_and_answers_urls(openai_emulator):
    answer = post(
        openai_emulator,
        {
            "model": "z-image-turbo",
            "prompt": "a cat",
            "size": "512x512",
            "seed": 7,
            "steps": 9,
            "negative_prompt": "blurry",
            "background": "ignored-by-this-server",
        },
        path="/local/v1/images/generations",
        token=None,
    )
    assert answer.status_code == 200
    image = httpx.get(answer.json()["data"][0]["url"], timeout=10)
    assert image.content.startswith(b"\x89PNG")


def test_models_lists_images_and_chat(openai_emulator):
    ids = [m.id for m in sdk(openai_emulator).models.list()]
    assert "gpt-image-2" in ids and "gpt-5.4-mini" in ids
    local = httpx.get(f"{openai_emulator.root_url}/local/v1/models", timeout=10).json()
    assert [m["id"] for m in local["data"]] == ["z-image-turbo", "qwen-image", "qwen3-8b"]


def test_chat_with_the_sdk_plain_and_streamed(openai_emulator):
    client = sdk(openai_emulator)
    messages = [{"role": "user", "content": "hello there"}]
    answer = client.chat.completions.create(model="gpt-5.4-mini", messages=messages)
    assert answer.choices[0].message.content == "You said: hello there"
    assert answer.usage.total_tokens > 0
    stream = client.chat.completions.create(
        model="gpt-5.4-mini",
        messages=[{"role": "system", "content": "rewrite"}, *messages],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"hello there{ENHANCED_SUFFIX}"
    assert chunks[-1].usage is not None
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_a_stream_is_data_lines_ending_in_done(openai_emulator):
    with httpx.stream(
        "POST",
        f"{openai_emulator.root_url}/v1/chat/completions",
        json={
            "model": "gpt-5.4-nano",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
        },
        headers=AUTH,
        timeout=10,
    ) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_chat_refuses_unknown_arguments_and_models(openai_emulator):
    body = {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}], "foo": 1}
    error = error_of(post(openai_emulator, body, path="/v1/chat/completions"), 400)
    assert error["message"] == "Unrecognized request argument supplied: foo"
    body = {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}
    assert error_of(post(openai_emulator, body, path="/v1/chat/completions"), 404)["code"] == (
        "model_not_found"
    )


@pytest.mark.parametrize("fault", ["stream_cut", "stream_error"])
def test_stream_faults(openai_emulator, fault):
    openai_emulator.script(fault)
    with httpx.stream(
        "POST",
        f"{openai_emulator.root_url}/v1/chat/completions",
        json={
            "model": "gpt-5.4-mini",
            "messages": [{"role": "user", "content": "one two three four"}],
            "stream": True,
        },
        headers=AUTH,
        timeout=10,
    ) as response:
        lines = [line for line in response.iter_lines() if line]
    assert "data: [DONE]" not in lines
    assert ('"error"' in lines[-1]) is (fault == "stream_error")

"""The spec's four curl examples (PROVIDERS.md "Usage Examples"), sent byte for byte.

Each body and header is exactly what the spec's `curl -d '...'` sends, to the server on a
real socket, backed by the real provider plugin talking to its emulator.
"""

from __future__ import annotations

import http.client
import importlib
import json
from urllib.parse import urlsplit

import httpx
import openai
import pytest

import imagegate
from imagegate.results import check_image

GITEE = b"""{
    "model": "gitee/z-image-turbo",
    "prompt": "a cute cat",
    "negative_prompt": "low quality, blurry",
    "size": "1024x1024",
    "steps": 9,
    "n": 1,
    "response_format": "url"
  }"""

HUGGINGFACE = b"""{
    "model": "flux-1-schnell",
    "prompt": "a cute cat",
    "size": "1024x1024",
    "steps": 8,
    "n": 1,
    "response_format": "url"
  }"""

MODELSCOPE = b"""{
    "model": "ms/flux-2",
    "prompt": "a cute cat",
    "size": "1024x1024",
    "steps": 24,
    "guidance_scale": 3.5,
    "n": 1,
    "response_format": "url"
  }"""

A4F = b"""{
    "model": "a4f/provider-4/imagen-3.5",
    "prompt": "a cute cat",
    "size": "1024x1024",
    "n": 1,
    "response_format": "url"
  }"""

EXAMPLES = [
    # (plugin module, provider id, emulator fixture, Authorization, body, token the provider sees)
    ("imagegate_gitee", "gitee", "gitee_emulator", "gitee:your-gitee-api-key", GITEE),
    ("imagegate_huggingface", "huggingface", "spaces_emulator", None, HUGGINGFACE),
    ("imagegate_modelscope", "modelscope", "modelscope_emulator", "ms:your-ms-token", MODELSCOPE),
    ("imagegate_a4f", "a4f", "a4f_emulator", "a4f:your-a4f-api-key", A4F),
]


def curl(base_url: str, body: bytes, authorization: str | None) -> tuple[int, bytes]:
    """POST the way `curl -X POST -H ... -d '...'` does: these headers, this body."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {
        "Host": url.netloc,
        "User-Agent": "curl/8.5.0",
        "Accept": "*/*",
        "Content-Type": "application/json",
    }
    if authorization:
        headers["Authorization"] = f"Bearer {authorization}"
    headers["Content-Length"] = str(len(body))
    connection.request("POST", "/v1/images/generations", body=body, headers=headers)
    response = connection.getresponse()
    try:
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("module", "provider", "fixture", "authorization", "body"),
    [pytest.param(*example, id=example[1]) for example in EXAMPLES],
)
def test_spec_curl_example(request, live_server, module, provider, fixture, authorization, body):
    emulator = request.getfixturevalue(fixture)
    plugin = importlib.import_module(module)
    gate = imagegate.Gate(
        plugins=[plugin], base_urls={provider: emulator.base_url}, use_stored_tokens=False
    )
    base_url = live_server(gate)

    status, raw = curl(base_url, body, authorization)

    assert status == 200, raw
    answer = json.loads(raw)
    assert isinstance(answer["created"], int)
    (image,) = answer["data"]
    assert "seed" in image  # null for a model that takes no seed (A4F)
    fetched = httpx.get(image["url"], follow_redirects=True, timeout=30)
    assert fetched.status_code == 200
    check_image(fetched.content)
    assert emulator.requests, "the provider's emulator was never called"
    if authorization:
        token = authorization.partition(":")[2]
        seen = " ".join(str(r.headers) for r in emulator.requests)
        assert token in seen


@pytest.mark.parametrize(
    ("module", "provider", "fixture", "authorization", "body"),
    [pytest.param(*example, id=example[1]) for example in EXAMPLES],
)
@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_openai_sdk_against_each_provider(
    request, live_server, module, provider, fixture, authorization, body, response_format
):
    import base64

    emulator = request.getfixturevalue(fixture)
    plugin = importlib.import_module(module)
    gate = imagegate.Gate(
        plugins=[plugin], base_urls={provider: emulator.base_url}, use_stored_tokens=False
    )
    client = openai.OpenAI(
        base_url=f"{live_server(gate)}/v1",
        api_key=authorization or "hf:",  # "hf:" is an empty token: anonymous HuggingFace
        max_retries=0,
    )
    fields = json.loads(body)
    extra = {k: fields.pop(k) for k in list(fields) if k not in {"model", "prompt", "size", "n"}}
    extra.pop("response_format")
    result = client.images.generate(**fields, response_format=response_format, extra_body=extra)
    (image,) = result.data
    if response_format == "b64_json":
        check_image(base64.b64decode(image.b64_json))
    else:
        check_image(httpx.get(image.url, follow_redirects=True, timeout=30).content)

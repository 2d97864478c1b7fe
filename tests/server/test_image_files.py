"""Stored images over real HTTP: every `url` points at the server, with a strong ETag,
`immutable`, HEAD and Range; unknown or expired names are OpenAI's 404."""

from __future__ import annotations

import base64
import hashlib
import time

import httpx
import openai
import pytest

import imagegate
import imagegate_gitee
from imagegate.media.local import LocalMedia
from imagegate.state.memory import MemoryState
from tests.emulators.control import VALID_TOKEN
from tests.fakes import FakePlugin, png_bytes


def sdk(base_url: str, api_key: str = "fk:caller-token-1") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


@pytest.fixture
def base_url(live_server) -> str:
    return live_server(imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False))


def test_a_url_answer_serves_the_bytes_with_a_strong_etag(base_url):
    before = time.time()
    (image,) = (
        sdk(base_url)
        .images.generate(model="fake/basic", prompt="a cat", extra_body={"seed": 4})
        .data
    )
    digest = hashlib.sha256(png_bytes(8, 8, 4)).hexdigest()
    assert image.url == f"{base_url}/v1/images/files/{digest}.png"
    assert before + 7 * 86400 - 5 <= image.expires_at <= time.time() + 7 * 86400
    response = httpx.get(image.url)
    assert response.status_code == 200 and response.content == png_bytes(8, 8, 4)
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{digest}"'
    assert "immutable" in response.headers["cache-control"]
    again = httpx.get(image.url, headers={"If-None-Match": f'"{digest}"'})
    assert again.status_code == 304 and again.content == b""


def test_head_and_range(base_url):
    (image,) = sdk(base_url).images.generate(model="fake/basic", prompt="a cat").data
    whole = httpx.get(image.url).content
    head = httpx.head(image.url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(whole))
    assert head.headers["accept-ranges"] == "bytes"
    part = httpx.get(image.url, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == whole[:8]
    assert part.headers["content-range"] == f"bytes 0-7/{len(whole)}"
    tail = httpx.get(image.url, headers={"Range": "bytes=-4"})
    assert tail.status_code == 206 and tail.content == whole[-4:]
    beyond = httpx.get(image.url, headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416


def test_ranges_from_memory_when_the_directory_cannot_be_written(live_server, tmp_path):
    blocked = tmp_path / "images"
    blocked.write_text("a file, not a directory")
    gate = imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False, media=str(blocked))
    url = live_server(gate)
    (image,) = sdk(url).images.generate(model="fake/basic", prompt="a cat").data
    whole = httpx.get(image.url).content
    assert whole.startswith(b"\x89PNG")
    part = httpx.get(image.url, headers={"Range": "bytes=2-5"})
    assert part.status_code == 206 and part.content == whole[2:6]
    assert httpx.head(image.url).headers["content-length"] == str(len(whole))
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "degraded"
    assert any("image directory" in p for p in health["storage"]["degraded"])
    assert str(tmp_path) not in str(health)


@pytest.mark.parametrize(
    "name", ["nothing.png", "0" * 64 + ".png", "..%2Fstate.db", "0" * 64 + ".exe"]
)
def test_unknown_names_are_openai_404s(base_url, name):
    response = httpx.get(f"{base_url}/v1/images/files/{name}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"  # as every 404 (docs/server.md)
    assert error["code"] in {"NOT_FOUND", "HTTP_404"}  # a slash never reaches the route


def test_an_expired_image_is_a_404(live_server, tmp_path):
    clock = [time.time()]
    media = LocalMedia(tmp_path / "images", retention=60, clock=lambda: clock[0])
    gate = imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False, media=media)
    url = live_server(gate)
    (image,) = sdk(url).images.generate(model="fake/basic", prompt="a cat").data
    assert httpx.get(image.url).status_code == 200
    clock[0] += 61
    assert httpx.get(image.url).status_code == 404


def test_b64_json_answers_are_stored_too_but_carry_no_link(live_server):
    gate = imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False, state=MemoryState())
    url = live_server(gate)
    (image,) = (
        sdk(url)
        .images.generate(
            model="fake/basic",
            prompt="a cat",
            response_format="b64_json",
            extra_body={"seed": 2},
        )
        .data
    )
    assert base64.b64decode(image.b64_json) == png_bytes(8, 8, 2)
    assert image.url is None and "expires_at" not in (image.model_extra or {})
    digest = hashlib.sha256(png_bytes(8, 8, 2)).hexdigest()
    assert httpx.get(f"{url}/v1/images/files/{digest}.png").content == png_bytes(8, 8, 2)


def test_public_url_sets_the_base_of_the_links(live_server, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_PUBLIC_URL", "https://images.example.org/gate/")
    url = live_server(imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False))
    (image,) = sdk(url).images.generate(model="fake/basic", prompt="a cat").data
    assert image.url.startswith("https://images.example.org/gate/v1/images/files/")
    path = image.url.removeprefix("https://images.example.org/gate")
    assert httpx.get(f"{url}{path}").status_code == 200


def test_a_provider_link_is_replaced_by_a_stored_copy(live_server, gitee_emulator):
    gate = imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": gitee_emulator.base_url},
        use_stored_tokens=False,
    )
    url = live_server(gate)
    client = sdk(url, api_key=f"gitee:{VALID_TOKEN}")
    (image,) = client.images.generate(
        model="gitee/z-image-turbo", prompt="a cat", size="256x256"
    ).data
    assert image.url.startswith(f"{url}/v1/images/files/")
    assert httpx.get(image.url).content.startswith(b"\x89PNG")


def test_pass_links_answers_with_the_providers_own_link(live_server, gitee_emulator):
    gate = imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": gitee_emulator.base_url},
        use_stored_tokens=False,
    )
    url = live_server(gate, pass_links=["gitee"])
    client = sdk(url, api_key=f"gitee:{VALID_TOKEN}")
    (image,) = client.images.generate(
        model="gitee/z-image-turbo", prompt="a cat", size="256x256"
    ).data
    assert image.url.startswith(gitee_emulator.base_url.split("/v1")[0] + "/files/")
    assert image.expires_at is None
    assert httpx.get(f"{url}/health").json()["storage"]["pass_links"] == ["gitee"]


def test_a_corrupt_state_file_is_reported_and_generation_goes_on(live_server, tmp_path):
    (tmp_path / "state.db").write_bytes(b"not a database " * 400)
    gate = imagegate.Gate(
        plugins=[FakePlugin()],
        use_stored_tokens=False,
        state=f"sqlite:///{tmp_path / 'state.db'}",
        media=str(tmp_path / "images"),
    )
    url = live_server(gate)
    (image,) = sdk(url).images.generate(model="fake/basic", prompt="a cat").data
    assert httpx.get(image.url).content.startswith(b"\x89PNG")
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "degraded"
    assert "history are kept in memory" in health["state"]["degraded"]

"""The server's history and its links' durability: `imagegate serve` restarted keeps serving
the same bytes, a Space's file URL never reaches a caller, and only the holders of a
protected server's API key list what it generated."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx
import openai
import pytest

import imagegate
from tests.fakes import FakePlugin
from tests.server.test_serve_process import COMMAND, environment, free_port

API_KEY = "server-key-123456"


def start_serve(port: int, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*COMMAND, "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else "exited"
                raise AssertionError(output) from None
            time.sleep(0.1)
    process.kill()
    raise AssertionError("imagegate serve did not become healthy")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=15)


def test_a_url_serves_the_same_bytes_after_a_restart_and_never_names_the_space(
    tmp_path, spaces_emulator
):
    port = free_port()
    env = environment(
        IMAGEGATE_HOME=str(tmp_path), IMAGEGATE_HUGGINGFACE_BASE_URL=spaces_emulator.base_url
    )
    process = start_serve(port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        answer = httpx.post(
            f"{base}/v1/images/generations",
            json={"model": "hf/z-image-turbo", "prompt": "a cat", "n": 2, "size": "512x512"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert "gradio_api" not in answer.text and spaces_emulator.base_url not in answer.text
        urls = [item["url"] for item in answer.json()["data"]]
        assert all(url.startswith(f"{base}/v1/images/files/") for url in urls)
        before = [httpx.get(url).content for url in urls]
        assert all(data[8:12] == b"WEBP" for data in before)
    finally:
        stop(process)
    with pytest.raises(httpx.TransportError):
        httpx.get(urls[0], timeout=2)
    process = start_serve(port, env)
    try:
        assert [httpx.get(url).content for url in urls] == before
        etag = httpx.get(urls[0]).headers["etag"]
        assert httpx.get(urls[0], headers={"If-None-Match": etag}).status_code == 304
    finally:
        stop(process)
    done = subprocess.run(
        [*COMMAND[:-1], "history", "--json"], env=env, capture_output=True, text=True
    )
    (record,) = json.loads(done.stdout)
    assert (record["source"], record["model"], record["prompt"]) == (
        "server",
        "hf/z-image-turbo",
        "a cat",
    )
    assert [urls[i].rsplit("/", 1)[1] for i in range(2)] == [
        image["media_key"] for image in record["images"]
    ]


def test_the_sdk_answer_never_carries_a_space_url(live_server, spaces_emulator):
    import imagegate_huggingface

    gate = imagegate.Gate(
        plugins=[imagegate_huggingface],
        base_urls={"huggingface": spaces_emulator.base_url},
        use_stored_tokens=False,
    )
    url = live_server(gate)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="hf:", max_retries=0, timeout=60)
    result = client.images.generate(model="hf/flux-1-schnell", prompt="a cat", size="512x512")
    (image,) = result.data
    assert image.url.startswith(f"{url}/v1/images/files/") and image.url.endswith(".webp")
    assert "gradio_api" not in result.model_dump_json()
    assert httpx.get(image.url).headers["content-type"] == "image/webp"


def test_serve_refuses_to_pass_space_links(tmp_path):
    done = subprocess.run(
        [*COMMAND, "--port", str(free_port()), "--pass-links", "gitee,huggingface"],
        env=environment(IMAGEGATE_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--pass-links" in done.stderr and "huggingface links are always stored" in done.stderr


# -- GET /v1/images/history ------------------------------------------------------------------


def sdk(base_url: str, api_key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


def listing(client: openai.OpenAI, **query) -> dict:
    return client.get("/images/history", cast_to=object, options={"params": query})


def test_an_open_server_lists_no_history(live_server):
    url = live_server(imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False))
    client = sdk(url, api_key="fk:caller-token")
    client.images.generate(model="fake/basic", prompt="my private prompt")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        listing(client)
    assert "my private prompt" not in caught.value.response.text
    assert "protected by an API key" in caught.value.message


def test_a_protected_server_lists_what_it_generated_to_key_holders(live_server):
    with imagegate.Gate(plugins=[FakePlugin()], history=True) as other:
        elsewhere = other.generate("the owner's own prompt", model="fake/basic")
    url = live_server(imagegate.Gate(plugins=[FakePlugin()]), api_key=API_KEY)
    client = sdk(url)
    for prompt in ("a red fox", "a cat", "a dog"):
        client.images.generate(model="fake/basic", prompt=prompt, extra_body={"seed": 1})
    found = listing(client)
    assert [r["prompt"] for r in found["data"]] == ["a dog", "a cat", "a red fox"]
    assert found["has_more"] is False
    first = found["data"][0]
    assert first["source"] == "server" and first["images"][0]["seed"] == 1
    assert httpx.get(first["images"][0]["url"]).status_code == 200
    assert all("path" not in image for r in found["data"] for image in r["images"])
    page = listing(client, limit=2)
    assert len(page["data"]) == 2 and page["has_more"] is True
    rest = listing(client, before=page["data"][-1]["time"])
    assert [r["prompt"] for r in rest["data"]] == ["a red fox"]
    assert [r["prompt"] for r in listing(client, search="FOX")["data"]] == ["a red fox"]
    one = client.get(f"/images/history/{first['id']}", cast_to=object)
    assert one["id"] == first["id"]
    with pytest.raises(openai.NotFoundError):
        client.get(f"/images/history/{elsewhere.history_id}", cast_to=object)
    with pytest.raises(openai.AuthenticationError):
        listing(sdk(url, api_key="not-the-key"))
    with pytest.raises(openai.BadRequestError) as caught:
        listing(client, limit=0)
    assert caught.value.body["param"] == "limit"


def test_no_history_records_nothing(live_server):
    gate = imagegate.Gate(plugins=[FakePlugin()])
    url = live_server(gate, api_key=API_KEY, history=False)
    client = sdk(url)
    (image,) = client.images.generate(model="fake/basic", prompt="a cat").data
    assert httpx.get(image.url).status_code == 200  # images are still stored and served
    assert listing(client)["data"] == []
    assert httpx.get(f"{url}/health").json()["storage"]["history"] is False


def test_the_environment_turns_history_off_and_passes_links(live_server, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_HISTORY", "off")
    monkeypatch.setenv("IMAGEGATE_PASS_LINKS", "gitee, modelscope")
    url = live_server(imagegate.Gate(plugins=[FakePlugin()]), api_key=API_KEY)
    storage = httpx.get(f"{url}/health").json()["storage"]
    assert storage["history"] is False
    assert storage["pass_links"] == ["gitee", "modelscope"]
    sdk(url).images.generate(model="fake/basic", prompt="a cat")
    assert listing(sdk(url))["data"] == []

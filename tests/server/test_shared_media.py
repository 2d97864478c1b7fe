"""Images on object storage: any replica serves any stored image, or sends the client to a
presigned URL of the store itself."""

from __future__ import annotations

import httpx
import openai
import pytest

import imagegate
from tests.fakes import FakePlugin, png_bytes


@pytest.fixture
def s3_url(s3_server, monkeypatch) -> str:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.bucket()}/images"


def new_gate(media: str) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[FakePlugin()], use_stored_tokens=False, retries=0, state="memory:", media=media
    )


def test_an_image_from_one_server_is_served_by_another(live_server, s3_url):
    a, b = live_server(new_gate(s3_url)), live_server(new_gate(s3_url))
    client = openai.OpenAI(base_url=f"{a}/v1", api_key="fk:t", max_retries=0)
    url = client.images.generate(model="fake/basic", prompt="a cat", extra_body={"seed": 6})
    path = url.data[0].url.removeprefix(a)
    answer = httpx.get(f"{b}{path}")
    assert answer.status_code == 200 and answer.content == png_bytes(8, 8, 6)
    assert answer.headers["content-type"] == "image/png"
    ranged = httpx.get(f"{b}{path}", headers={"range": "bytes=0-7"})
    assert ranged.status_code == 206 and ranged.content == png_bytes(8, 8, 6)[:8]


def test_with_presign_the_server_redirects_to_the_store(live_server, s3_url):
    base = live_server(new_gate(s3_url + "?presign=300"))
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="fk:t", max_retries=0)
    url = (
        client.images.generate(model="fake/basic", prompt="a cat", extra_body={"seed": 2})
        .data[0]
        .url
    )
    answer = httpx.get(url)
    assert answer.status_code == 307
    assert "X-Amz-Signature=" in answer.headers["location"]
    assert httpx.get(url, follow_redirects=True).content == png_bytes(8, 8, 2)


def test_health_is_503_while_the_image_store_cannot_be_reached(live_server, s3_url, s3_server):
    """A load balancer reading /health stops sending traffic to a replica whose images
    cannot be stored; the answer names the kind of store, never its address or keys."""
    reachable = live_server(new_gate(s3_url))
    fine = httpx.get(f"{reachable}/health")
    assert fine.status_code == 200 and fine.json()["status"] == "ok"
    assert fine.json()["storage"]["images"] == "s3"
    assert "degraded" not in fine.json()["storage"]

    unreachable = live_server(new_gate("s3://bucket/images?endpoint=http://127.0.0.1:1"))
    down = httpx.get(f"{unreachable}/health", timeout=30)
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    (problem,) = body["storage"]["degraded"]
    assert problem.startswith("the image store (s3) ")
    assert "127.0.0.1:1" not in down.text and s3_server.secret_key not in down.text

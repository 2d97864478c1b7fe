"""Images: bytes fetched once and only when needed, checked, and saved safely."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

import imagegate
from imagegate.errors import ProviderError
from tests.emulators.server import ServerThread
from tests.fakes import FakePlugin, png_bytes

PNG = png_bytes(16, 16, 7)


@pytest.fixture(scope="module")
def image_host():
    hits: list[str] = []

    async def image(request):
        hits.append(request.path_params["name"])
        name = request.path_params["name"]
        body = {"ok.png": PNG, "cut.png": PNG[: len(PNG) // 2], "page.png": b"<html>"}.get(name)
        if body is None:
            return Response("gone", status_code=404)
        return Response(body, media_type="image/png")

    server = ServerThread(Starlette(routes=[Route("/img/{name}", image)])).start()
    server.hits = hits
    yield server
    server.stop()


def url_gate(image_host, url: str) -> imagegate.Gate:
    """A provider whose links point at the image host, configured on its network (loopback:
    links elsewhere on loopback would be refused, tests/security has those)."""
    return imagegate.Gate(plugins=[UrlPlugin(url)], base_urls={"fake": image_host.url})


class UrlPlugin(FakePlugin):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        return [imagegate.GeneratedImage(url=self.url) for _ in range(request.n)]


def test_url_images_are_fetched_only_when_needed_and_once(image_host):
    image_host.hits.clear()
    with url_gate(image_host, f"{image_host.url}/img/ok.png") as gate:
        result = gate.generate("a cat", model="fake/basic")
        assert image_host.hits == []  # response_format=url: nothing downloaded
        image = result.images[0]
        assert image.read() == PNG and image.read() == PNG
    assert image_host.hits == ["ok.png"]
    assert image.mime_type == "image/png"


def test_b64_json_fetches_every_image_before_returning(image_host):
    image_host.hits.clear()
    with url_gate(image_host, f"{image_host.url}/img/ok.png") as gate:
        result = gate.generate("a cat", model="fake/basic", n=3, response_format="b64_json")
    assert image_host.hits == ["ok.png"] * 3
    assert all(image.data == PNG for image in result.images)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("cut.png", "truncated"), ("page.png", "not a PNG"), ("missing.png", "HTTP 404")],
)
def test_broken_downloads_are_provider_errors_naming_the_provider(image_host, name, expected):
    with url_gate(image_host, f"{image_host.url}/img/{name}") as gate:
        with pytest.raises(ProviderError, match=expected) as caught:
            gate.generate("a cat", model="fake/basic", response_format="b64_json")
    assert caught.value.message.startswith("Fake:")


def test_save_adds_the_real_extension_and_never_overwrites(tmp_path):
    with imagegate.Gate(plugins=[FakePlugin()]) as gate:
        image = gate.generate("a cat", model="fake/basic").images[0]
    path = image.save(tmp_path / "cat")
    assert path.name == "cat.png" and path.read_bytes() == image.data
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        image.save(path)
    assert path.read_bytes() == b"precious"
    image.save(path, overwrite=True)
    assert path.read_bytes() == image.data
    assert [p.name for p in tmp_path.iterdir()] == ["cat.png"]  # no temporary file left


def test_saved_images_get_the_usual_permissions_of_a_new_file(tmp_path):
    import os
    import stat

    with imagegate.Gate(plugins=[FakePlugin()]) as gate:
        image = gate.generate("a cat", model="fake/basic").images[0]
    old = os.umask(0o022)
    try:
        path = image.save(tmp_path / "cat")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_plugin_returning_bytes_that_are_not_an_image_is_a_provider_error():
    class Junk(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            return [imagegate.GeneratedImage(data=b'{"error": 1}')]

    with imagegate.Gate(plugins=[Junk()]) as gate, pytest.raises(ProviderError, match="unusable"):
        gate.generate("a cat", model="fake/basic")

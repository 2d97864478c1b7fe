"""A plugin written in under 40 lines serves a model through the whole public API."""

from __future__ import annotations

import base64

import pytest

import imagegate
from tests.fakes import png_bytes


class TinyPlugin:  # the whole plugin: a provider, a model, and a generate hook
    provider = imagegate.Provider(
        id="tiny", display_name="Tiny", model_prefix="tiny", auth_prefix="tiny", auth="none"
    )

    @imagegate.hookimpl
    def list_models(self):
        steps = imagegate.IntRange(min=1, max=10, default=4)
        caps = imagegate.Capabilities(steps=steps, min_side=16)
        return [
            imagegate.Model(id="dot", display_name="Dot", provider=self.provider, capabilities=caps)
        ]

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        shade = request.seed % 256
        return [imagegate.GeneratedImage(data=png_bytes(request.width, request.height, shade))]


def test_tiny_plugin_serves_n4_b64_and_save(tmp_path):
    with imagegate.Gate(plugins=[TinyPlugin()]) as gate:
        result = gate.generate(
            "a dot", model="tiny/dot", n=4, size="64x32", seed=10, response_format="b64_json"
        )
    assert result.model == "tiny/dot"
    assert [image.seed for image in result.images] == [10, 11, 12, 13]
    assert result.request.steps == 4  # default from the capabilities
    for image in result.images:
        decoded = base64.b64decode(image.b64_json())
        assert decoded.startswith(b"\x89PNG") and (image.width, image.height) == (64, 32)
    saved = result.images[0].save(tmp_path / "dot")
    assert saved.name == "dot.png" and saved.read_bytes() == result.images[0].data


@pytest.mark.anyio
async def test_tiny_plugin_async(anyio_backend):
    async with imagegate.Gate(plugins=[TinyPlugin()]) as gate:
        result = await gate.agenerate("a dot", model="TINY/DOT", seed=3)
    assert result.model == "tiny/dot" and len(result.images) == 1
    assert (await result.images[0].aread()).startswith(b"\x89PNG")

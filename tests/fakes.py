"""An in-process provider plugin for tests: answers at once with real PNG bytes."""

from __future__ import annotations

import imagegate
from imagegate import Capabilities, FloatRange, GeneratedImage, IntRange, Model, Provider
from imagegate.errors import ImagegateError
from imagegate.testing.images import png

FAKE_PROVIDER = Provider(
    id="fake",
    display_name="Fake",
    model_prefix="fake",
    auth_prefix="fk",
    auth="optional",
    image_format="png",
)


def png_bytes(width: int = 8, height: int = 8, shade: int = 0) -> bytes:
    """A real, complete PNG of the given size, filled with one grey shade."""
    return png(width, height, shade)


class FakePlugin:
    """Serves `fake/basic` (all capabilities) and `fake/plain` (none); records every call."""

    def __init__(self, provider: Provider = FAKE_PROVIDER, delay: float = 0.0) -> None:
        self.provider = provider
        self.delay = delay
        self.calls: list[dict] = []
        self.failures: list[ImagegateError] = []
        """Raised, first to last, by the next calls."""

    @imagegate.hookimpl
    def list_models(self):
        return [
            Model(
                id="basic",
                display_name="Basic",
                provider=self.provider,
                aliases=("b",),
                capabilities=Capabilities(
                    negative_prompt=True,
                    steps=IntRange(min=1, max=50, default=9),
                    guidance=FloatRange(min=0, max=20, default=1.5),
                ),
            ),
            Model(
                id="plain",
                display_name="Plain",
                provider=self.provider,
                capabilities=Capabilities(seed=False, max_images_per_call=4),
            ),
        ]

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        import asyncio

        self.calls.append({"request": request, "token": token, "base_url": context.base_url})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        return [
            GeneratedImage(data=png_bytes(8, 8, (request.seed or 0) + i), seed=request.seed)
            for i in range(request.n)
        ]


plugin = FakePlugin()
"""A module-level instance, for `IMAGEGATE_PLUGINS=tests.fakes:plugin` in subprocess tests."""
slow_plugin = FakePlugin(delay=60.0)
"""The same, taking a minute per call: `IMAGEGATE_PLUGINS=tests.fakes:slow_plugin`."""

"""A test provider for CLI subprocess tests, scripted through the environment.

`IMAGEGATE_SCRIPTED_FAILURE=auth|quota|provider|failed|timeout|crash` makes every call fail
that way, with the token it was given inside the message (the CLI must never print it);
`IMAGEGATE_SCRIPTED_DELAY=30` makes a call wait; `IMAGEGATE_SCRIPTED_MARKERS=DIR` gets a
`started` file when a call begins and a `cancelled` file when one is cancelled.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import imagegate
from imagegate import GeneratedImage, IntRange, Model, Provider, errors
from tests.fakes import png_bytes

PROVIDER = Provider(
    id="scripted",
    display_name="Scripted",
    model_prefix="scripted",
    auth_prefix="sc",
    auth="optional",
)

_FAILURES = {
    "auth": lambda m: errors.AuthInvalid(m),
    "quota": lambda m: errors.QuotaExceeded(m),
    "provider": lambda m: errors.ProviderError(m),
    "failed": lambda m: errors.GenerationFailed(m),
    "timeout": lambda m: errors.Timeout(m),
    "crash": lambda m: RuntimeError(m),
}


def _marker(name: str) -> None:
    directory = os.environ.get("IMAGEGATE_SCRIPTED_MARKERS")
    if directory:
        Path(directory, name).touch()


@imagegate.hookimpl
def list_models():
    return [
        Model(
            id="model",
            display_name="Scripted model",
            provider=PROVIDER,
            capabilities=imagegate.Capabilities(steps=IntRange(min=1, max=10, default=2)),
        )
    ]


@imagegate.hookimpl
async def generate(request, model, token, context):
    _marker("started")
    try:
        delay = float(os.environ.get("IMAGEGATE_SCRIPTED_DELAY", "0"))
        if delay:
            context.report("queued", queue_position=2, queue_size=5, eta=delay)
            await asyncio.sleep(delay)
    except asyncio.CancelledError:
        _marker("cancelled")
        raise
    failure = os.environ.get("IMAGEGATE_SCRIPTED_FAILURE")
    if failure:
        raise _FAILURES[failure](f"the provider rejected token {token}")
    context.report("progress", step=2, total_steps=2)
    return [
        GeneratedImage(data=png_bytes(8, 8, request.seed % 256), seed=request.seed)
        for _ in range(request.n)
    ]

"""The hooks a provider plugin implements. Markers are `imagegate.hookimpl`.

`list_models`, `validate` and `generate` are the image hooks; `close` is optional, to release
what a plugin keeps; `list_chat_models` and `chat` are optional, for plugins whose provider
also serves chat (LLM) models.

An implementation may accept fewer arguments than the spec (pluggy passes only those it
names), so a spec can grow without breaking plugins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .chat import ChatRequest
    from .context import GenerateContext
    from .models import ChatModel, Model
    from .request import ImageRequest, Problem
    from .results import GeneratedImage

hookspec = pluggy.HookspecMarker("imagegate")
hookimpl = pluggy.HookimplMarker("imagegate")


@hookspec
def list_models() -> Iterable[Model]:
    """Return the models this plugin serves, each carrying its `Provider`.

    Called on every plugin; cheap and offline (no network, no heavy imports).
    """


@hookspec
def validate(request: ImageRequest, model: Model) -> Iterable[Problem] | None:
    """Return the problems found in `request` for `model`; empty or None when it is fine.

    Called on every plugin, for every model, after defaults are filled in, so policy
    plugins can add rules. Never receives credentials.
    """


@hookspec
def generate(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> Awaitable[list[GeneratedImage]] | list[GeneratedImage] | None:
    """Make `request.n` images with `model` and return them (url or bytes each).

    Called only on the plugin that owns `model`. `request` is resolved: width, height, seed,
    steps and guidance are filled in (None when the model takes no such value). `token` is
    this provider's token (None when anonymous). Raise `imagegate.errors` exceptions;
    the core retries transient ones, rotates tokens on quota, and enforces the deadline.
    """


@hookspec
def close() -> None:
    """Release what the plugin keeps between calls (clients, connections, threads).

    Called on every plugin when a `Gate` closes. Other gates may share the plugin, so leave
    it usable (rebuild lazily on the next call) and let calls in flight finish. Return
    within about a second: interpreter exit waits for it.
    """


@hookspec
def list_chat_models() -> Iterable[ChatModel]:
    """Optional: return the chat (LLM) models this plugin serves, each carrying its
    `Provider` (the same one as its image models, so tokens are shared).

    Called on every plugin, like `list_models`: cheap and offline. The server lists them in
    `GET /v1/models` (`"type": "chat"`) and serves them at `POST /v1/chat/completions`; the
    core uses one to rewrite prompts (`enhance=`).
    """


@hookspec
def chat(
    request: ChatRequest, model: ChatModel, token: str | None, context: GenerateContext
) -> Awaitable[dict[str, Any]] | AsyncIterator[dict[str, Any]] | None:
    """Answer `request` (OpenAI's chat completion body) with `model`.

    Called only on the plugin that owns `model`. When `request.stream` is false, return an
    awaitable of OpenAI's `chat.completion` object (a dict); when it is true, an async
    iterator of its `chat.completion.chunk` dicts (an `async def` generator), the last one
    before the upstream's `[DONE]`. Raise `imagegate.errors` exceptions before the first
    chunk: the core rotates tokens, retries transient failures and maps errors as for
    images; after it, an error ends the stream. `request.body(model.id)` is the body to
    send upstream; the core writes the full model id into every answer.
    """

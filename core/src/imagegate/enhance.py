"""Prompt enhancement: a chat model rewrites a short idea into a detailed image prompt,
and the images are made from the rewrite (`enhance=` in the library, `--enhance` in the
CLI, the server's `enhance` extension). The result says what was sent (`revised_prompt`).

The chat model is the one named (`enhance="a4f/provider-3/deepseek-v3"`), else
IMAGEGATE_ENHANCE_MODEL, else the spec's example when installed, else the first chat model.
Tokens the caller gave are split by their prefix: `a4f:...` goes to an A4F chat model,
the rest to the image model (an unprefixed token goes to both when they share a provider).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .context import Progress, ProgressCallback
from .credentials import split_tokens
from .errors import GenerationFailed, InvalidModel
from .request import MAX_PROMPT_LENGTH, ImageRequest

if TYPE_CHECKING:
    from .gate import Gate
    from .models import Provider
    from .results import ImageResult

__all__ = ["SYSTEM_PROMPT", "clean_prompt", "enhance_prompt", "enhanced"]

SYSTEM_PROMPT = (
    "You rewrite prompts for text-to-image models. Given an idea, answer with one improved "
    "prompt in the idea's language: the subject first, then its setting, composition, "
    "lighting, style and fine detail, as one descriptive paragraph of at most 120 words. "
    "Keep everything the idea asks for and add nothing that contradicts it. Answer with the "
    "prompt only: no preamble, no quotes, no lists, no markdown."
)

_LEAD = re.compile(r"^\s*(?:\*\*)?(?:improved |enhanced |rewritten )?prompt(?:\*\*)?\s*:\s*", re.I)


async def enhance_prompt(
    gate: Gate,
    prompt: str,
    *,
    model: str | None = None,
    token: str | Sequence[str] | None = None,
    timeout: float | None = None,
) -> tuple[str, str]:
    """The rewritten prompt, and the full id of the chat model that wrote it."""
    result = await gate.achat(
        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
        model=model,
        token=token,
        timeout=timeout,
    )
    revised = clean_prompt(result.text)
    if not revised:
        raise GenerationFailed(
            f"{result.model} answered the prompt enhancement with no text; try again, or "
            "generate without enhancing",
            provider=result.provider,
        )
    return revised, result.model


def clean_prompt(text: str) -> str:
    """The prompt in a chat answer: without fences, a `Prompt:` lead or wrapping quotes,
    on one line, cut to the longest prompt a request may carry."""
    text = text.strip().strip("`").strip()
    text = _LEAD.sub("", text)
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    text = text.strip("“”").strip()
    return text[:MAX_PROMPT_LENGTH].rstrip()


async def enhanced(
    gate: Gate,
    prompt: str | ImageRequest,
    enhance: bool | str,
    *,
    model: str | None,
    token: str | Sequence[str] | None,
    progress: ProgressCallback | None,
    timeout: float | None,
    fallbacks: Sequence[str] | Mapping[str, str | Sequence[str]] | None,
    params: dict[str, Any],
) -> ImageResult:
    """`Gate.agenerate(enhance=...)`: rewrite the prompt, then generate from the rewrite,
    both within the one timeout."""
    from .chatting import resolve_chat

    started = time.monotonic()
    allowed = timeout or gate.timeout
    chat_model = resolve_chat(gate, None if enhance is True else str(enhance)).model
    image_provider = _image_provider(gate, prompt, model)
    chat_tokens, image_tokens = _split(gate, token, chat_model.provider, image_provider)
    original = prompt.prompt if isinstance(prompt, ImageRequest) else prompt
    if progress is not None:
        with contextlib.suppress(Exception):
            progress(
                Progress(
                    provider=chat_model.provider.id,
                    model=chat_model.full_id,
                    stage="enhancing",
                    message=f"rewriting the prompt with {chat_model.full_id}",
                )
            )
    revised, by = await enhance_prompt(
        gate, original, model=chat_model.full_id, token=chat_tokens, timeout=allowed
    )
    rewritten: str | ImageRequest = (
        prompt.model_copy(update={"prompt": revised})
        if isinstance(prompt, ImageRequest)
        else revised
    )
    left = max(1.0, allowed - (time.monotonic() - started))
    result = await gate.agenerate(
        rewritten,
        model=model,
        token=image_tokens,
        progress=progress,
        timeout=left,
        fallbacks=fallbacks,
        **params,
    )
    result.revised_prompt, result.prompt, result.enhanced_by = revised, original, by
    result.elapsed = time.monotonic() - started
    return result


def _image_provider(gate: Gate, prompt: str | ImageRequest, model: str | None) -> Provider | None:
    """The provider of the image model asked for; None for a family (several)."""
    wanted = model or (prompt.model if isinstance(prompt, ImageRequest) else None)
    try:
        if gate.catalog.family(wanted) is not None:
            return None
        return gate.catalog.resolve(wanted).model.provider
    except InvalidModel:
        return None  # the image request reports it, after the rewrite


def _split(
    gate: Gate,
    token: str | Sequence[str] | None,
    chat: Provider,
    image: Provider | None,
) -> tuple[list[str] | None, list[str] | None]:
    """(the chat model's tokens, the image model's): by prefix, never one provider's token
    to another; unprefixed tokens are the image model's (and the chat's too when the two
    share a provider)."""
    if not token:
        return None, None
    owners = gate.catalog.token_prefixes
    for_chat: list[str] = []
    for_images: list[str] = []
    for value in split_tokens(token):
        head, sep, _ = value.partition(":")
        owner = owners.get(head.lower()) if sep else None
        if owner is not None and owner.id == chat.id:
            for_chat.append(value)
            if image is not None and image.id == chat.id:
                for_images.append(value)
            continue
        for_images.append(value)
        if owner is None and image is not None and image.id == chat.id:
            for_chat.append(value)
    return for_chat or None, for_images or None

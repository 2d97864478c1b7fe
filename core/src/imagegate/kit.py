"""The wire steps every HTTP provider plugin repeats, each in one call.

    from imagegate import kit

    query = kit.fields(request, model, "model", "width", "height", "seed")
    response = await kit.get(context, "/prompt/a-cat", params=query, token=token)
    return kit.image_bytes(response, model, token=token)

`fields` reads a resolved request into the names a service uses; `get` and `post` send
through the shared client, to the provider's base URL, with the bearer token and the
request's deadline; `image_bytes` and `json_images` turn an answer into images, raising the
core's mapping of an error answer (`imagegate.upstream.error_for_response`: status,
OpenAI-style and other bodies, Retry-After, quota words) and a `ProviderError` that says
what was wrong with a malformed one. Anything they do not cover, a plugin writes itself:
each helper is a few lines over `context.client`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ProviderError
from .results import GeneratedImage, check_image

if TYPE_CHECKING:
    import httpx

    from .context import GenerateContext
    from .models import Model
    from .request import ImageRequest

__all__ = ["FIELDS", "fields", "get", "image_bytes", "json_images", "post", "url"]

FIELDS = (
    "model",
    "prompt",
    "negative_prompt",
    "size",
    "width",
    "height",
    "aspect_ratio",
    "seed",
    "steps",
    "guidance_scale",
    "n",
    "response_format",
)
"""The names `fields` knows: `model` is the model's own id, `size` is `WxH`, the others
are the resolved request's values."""


def fields(
    request: ImageRequest,
    model: Model,
    *names: str,
    rename: Mapping[str, str] | None = None,
    **constants: Any,
) -> dict[str, Any]:
    """The request's values for `names` (from `FIELDS`), under the service's names
    (`rename={"steps": "num_inference_steps"}`), plus `constants`; values the request
    does not carry (None: the model takes no such value) are left out."""
    rename = dict(rename or {})
    unknown = [n for n in (*names, *rename) if n not in FIELDS]
    if unknown:
        raise ValueError(f"kit.fields knows no {unknown[0]!r}; known: {', '.join(FIELDS)}")
    found: dict[str, Any] = {}
    for name in names:
        if name == "model":
            value: Any = model.id
        elif name == "size":
            known = request.width is not None and request.height is not None
            value = f"{request.width}x{request.height}" if known else None
        else:
            value = getattr(request, name)
        if value is not None:
            found[rename.get(name, name)] = value
    found.update(constants)
    return found


def url(context: GenerateContext, path: str) -> str:
    """`path` under the provider's base URL (an absolute URL is kept as it is)."""
    if path.startswith(("https://", "http://")):
        return path
    if not context.base_url:
        raise ProviderError(
            f"{context.provider or 'the provider'} has no base URL: set Provider.base_url",
            provider=context.provider or None,
        )
    return f"{context.base_url.rstrip('/')}/{path.lstrip('/')}" if path else context.base_url


async def get(
    context: GenerateContext,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """GET `path` under the base URL through the shared client, within the deadline."""
    return await _send(context, "GET", path, params=params, token=token, headers=headers)


async def post(
    context: GenerateContext,
    path: str,
    *,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST `json` to `path` under the base URL through the shared client, within the
    deadline."""
    return await _send(
        context, "POST", path, json=json, params=params, token=token, headers=headers
    )


async def _send(
    context: GenerateContext,
    method: str,
    path: str,
    *,
    token: str | None,
    headers: Mapping[str, str] | None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if token and not any(name.lower() == "authorization" for name in sent):
        sent["Authorization"] = f"Bearer {token}"
    return await context.client.request(
        method,
        _parsed(url(context, path)),
        params=dict(params) if params else None,
        json=json,
        headers=sent,
        timeout=max(0.01, context.remaining()),
    )


_PARSED: dict[str, httpx.URL] = {}


def _parsed(address: str) -> httpx.URL:
    """`address` as httpx's URL, parsed once: httpx parses a string URL on every request
    (~20 us, about 2% of the server's CPU per request; bench/profile_server.py), and a
    provider's endpoints are few. Task URLs come and go, so the memory is bounded."""
    found = _PARSED.get(address)
    if found is None:
        import httpx

        if len(_PARSED) >= 512:
            _PARSED.clear()
        found = _PARSED[address] = httpx.URL(address)
    return found


def image_bytes(
    response: httpx.Response, model: Model, *, token: str | None = None
) -> list[GeneratedImage]:
    """The one image of an answer whose body is the image, or the error it stands for."""
    _raise_for_error(response, model, token)
    data = response.content
    try:
        mime = check_image(data)
    except ValueError as exc:
        raise ProviderError(
            f"{model.provider.display_name} answered HTTP {response.status_code} "
            f"with {_kind(response)} instead of an image ({_said(response, token) or exc})",
            provider=model.provider.id,
            transient="truncated" in str(exc),
        ) from None
    return [GeneratedImage(data=data, mime_type=mime)]


def json_images(
    response: httpx.Response, model: Model, *, token: str | None = None, key: str = "data"
) -> list[GeneratedImage]:
    """The images of an OpenAI-style answer, `{"data": [{"url"} | {"b64_json"}, ...]}`
    (`key` names another list), or the error it stands for."""
    _raise_for_error(response, model, token)
    name = model.provider.display_name
    try:
        payload = response.json()
    except ValueError:
        raise ProviderError(
            f"{name} answered with {_kind(response)}, not JSON; the service may be down "
            "or something is in the way",
            provider=model.provider.id,
        ) from None
    items = payload.get(key) if isinstance(payload, dict) else None
    images = [image for item in items or () if (image := _image(item, name, model)) is not None]
    if not images:
        why = _said(response, token)
        raise ProviderError(
            f"{name} answered without an image (no `{key}` item with url or b64_json)"
            + (f": {why}" if why else ""),
            provider=model.provider.id,
        )
    return images


def _image(item: Any, name: str, model: Model) -> GeneratedImage | None:
    if not isinstance(item, dict):
        return None
    metadata = {"revised_prompt": item["revised_prompt"]} if item.get("revised_prompt") else {}
    if isinstance(item.get("url"), str) and item["url"]:
        return GeneratedImage(url=item["url"], metadata=metadata)
    if isinstance(item.get("b64_json"), str):
        try:
            data = base64.b64decode(item["b64_json"], validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError(
                f"{name} answered with b64_json that is not base64", provider=model.provider.id
            ) from None
        return GeneratedImage(data=data, metadata=metadata)
    return None


def _raise_for_error(response: httpx.Response, model: Model, token: str | None) -> None:
    if response.is_error:
        from .upstream import error_for_response

        raise error_for_response(response, provider=model.provider, secrets=[token])


def _said(response: httpx.Response, token: str | None) -> str | None:
    from .errors import redact
    from .upstream import provider_message

    text = provider_message(response)
    return redact(text, [token or ""]) if text else None


def _kind(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip() or "an unknown type"
    return f"{kind} ({len(response.content)} bytes)"

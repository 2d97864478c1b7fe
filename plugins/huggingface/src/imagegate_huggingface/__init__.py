"""imagegate provider plugin for HuggingFace Spaces, through gradio_client.

pip install imagegate-huggingface
imagegate generate "a cute cat"                  # z-image-turbo, no token needed
export HF_TOKEN=hf_...                           # optional: a larger ZeroGPU quota

`IMAGEGATE_HUGGINGFACE_BASE_URL=<root>` sends each Space to `<root>/<subdomain>/` instead of
`https://<subdomain>.hf.space/` (emulators, self-hosted copies). gradio_client is imported
only when an image is generated, so listing models stays cheap.
"""

from __future__ import annotations

from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model, hookimpl
from imagegate.errors import ImagegateError

from . import errors, wire
from .models import MODELS, PROVIDER, SPACES, Space

__all__ = ["MODELS", "PROVIDER", "close", "generate", "list_models"]


@hookimpl
def list_models() -> list[Model]:
    return list(MODELS)


@hookimpl
def close() -> None:
    """A closing gate closes the Space clients (within a second); the next call rebuilds."""
    import sys

    runner = sys.modules.get(f"{__name__}.runner")  # never imported: nothing to close
    if runner is not None:
        runner.close_all()


@hookimpl
async def generate(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    """One Space call per image (the core fans `n` out); the fallback Space if the first is
    missing or down."""
    ratio = None
    if model.id == "qwen-image-fast":
        ratio, mapped = wire.qwen_ratio(request)
        if mapped and (request.size or _not_default_size(request, model)):
            context.warn(
                f"size {request.width}x{request.height} sent as aspect ratio {ratio}: "
                f"{model.full_id} takes an aspect ratio, not a pixel size"
            )
        request = request.model_copy(update={"aspect_ratio": ratio})
    inputs = wire.build_inputs(model.id, request, ratio)
    primary = SPACES[model.id]
    failure: ImagegateError | None = None
    for space in (primary, *primary.fallbacks):
        try:
            return [await _call(space, inputs, request, model, token, context)]
        except (errors.SpaceMissing, errors.SpaceDown) as exc:
            failure = failure or exc
            if space is not primary:
                failure.message += f"; its fallback {space.name} failed too ({exc.message})"
                failure.args = (failure.message,)
    assert failure is not None
    raise failure


async def _call(
    space: Space,
    inputs: list,
    request: ImageRequest,
    model: Model,
    token: str | None,
    context: GenerateContext,
) -> GeneratedImage:
    from . import runner

    url = wire.space_url(context.base_url, space)
    context.report("submitted", message=f"HuggingFace Space {space.name}")
    try:
        client = await runner.get_client(url, token)
    except Exception as exc:
        raise await _connect_error(exc, space, url, context, token) from None
    try:
        result = await runner.run_job(client, inputs, space.api_name, context)
    except Exception as exc:
        error = errors.from_exception(exc, space, model, with_token=token is not None)
        if _is_queue_full(exc):  # a sleeping Space also answers the join with 503
            error = await _probed(error, space, url, context, token)
        if isinstance(error, (errors.SpaceMissing, errors.SpaceDown)):
            runner.forget(url, token)  # gone or restarted: its sessions are lost
        raise error from None
    context.report("done")
    return wire.parse_result(result, model.id, request, space, url)


async def _connect_error(
    exc: Exception, space: Space, url: str, context: GenerateContext, token: str | None
) -> ImagegateError:
    """gradio_client says only "Could not fetch config" for a 404 and a 503 alike."""
    from gradio_client import exceptions

    error = errors.from_exception(exc, space, with_token=token is not None)
    if isinstance(exc, ValueError) and not isinstance(
        exc, (exceptions.AuthenticationError, exceptions.AppError)
    ):
        error = await _probed(error, space, url, context, token)
    return error


async def _probed(
    error: ImagegateError, space: Space, url: str, context: GenerateContext, token: str | None
) -> ImagegateError:
    """One look at the Space's config tells a missing or sleeping Space from `error`.

    Redirects are not followed: a Space that is not running sends its visitors to its page
    on the Hub, which answers 200 with HTML, and that must not read as "the Space is up".
    Only a 200 JSON config means the Space itself answered."""
    import httpx

    try:
        probe = await context.client.get(
            f"{url}config", timeout=min(15.0, context.remaining()), follow_redirects=False
        )
    except httpx.HTTPError as probe_error:
        return errors.from_exception(probe_error, space)
    if probe.is_redirect:
        where = probe.headers.get("location", "elsewhere")
        return errors.sleeping(space, f"it redirects to {where}")
    if probe.status_code == 200:
        if "json" in probe.headers.get("content-type", ""):
            return error
        return errors.sleeping(space, "it answers a page instead of its config")
    found = errors.from_status(
        probe.status_code, probe.headers, probe.text, space, with_token=token is not None
    )
    return found if isinstance(found, (errors.SpaceMissing, errors.SpaceDown)) else error


def _is_queue_full(exc: Exception) -> bool:
    from gradio_client.utils import QueueError

    return isinstance(exc, QueueError)


def _not_default_size(request: ImageRequest, model: Model) -> bool:
    default = model.capabilities.default_size.lower().split("x")
    return [str(request.width), str(request.height)] != default

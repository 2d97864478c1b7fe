"""`imagegate generate`: one request, images saved to disk, their paths on stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import console, factory, output, progress
from .generate_options import OPENAI_FIELDS, openai_options
from .types import SECONDS

if TYPE_CHECKING:
    from imagegate import ImageResult


@click.command()
@click.argument("prompt", required=False)
@click.option(
    "-m",
    "--model",
    metavar="ID",
    help="Model id or alias, or any/<family> (default: hf/z-image-turbo).",
)
@click.option(
    "--fallback",
    "fallbacks",
    multiple=True,
    metavar="MODEL",
    help="A model to try when the one asked for cannot serve (repeatable, tried in order).",
)
@click.option("--size", metavar="WxH", help="Image size in pixels, e.g. 1024x768.")
@click.option("--aspect", metavar="W:H", help="Aspect ratio instead of a size, e.g. 16:9.")
@click.option("--steps", type=int, metavar="N", help="Inference steps (see `imagegate models`).")
@click.option(
    "--guidance", type=float, metavar="X", help="Guidance scale (see `imagegate models`)."
)
@click.option("--seed", type=int, metavar="N", help="Seed, for a reproducible image.")
@click.option("--negative", metavar="TEXT", help="Negative prompt: what to keep out.")
@click.option(
    "-n",
    "count",
    type=int,
    default=1,
    metavar="N",
    show_default=True,
    help="Number of images (1-10).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="Provider token (several comma-separated rotate); default: env, then keys file.",
)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="A directory (existing, or ending in /) or a file name; default: current directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of paths.")
@click.option(
    "--timeout", type=SECONDS, metavar="SECONDS", help="Give up after this long (default 300)."
)
@click.option("--no-progress", is_flag=True, help="No progress line, even on a terminal.")
@click.option(
    "--no-history", is_flag=True, help="Do not record this call (`imagegate history off`: none)."
)
@click.option(
    "--enhance", is_flag=True, help="Rewrite the prompt with a chat model first (see --json)."
)
@click.option("--enhance-model", metavar="ID", help="The chat model for --enhance.")
@openai_options
def generate(
    prompt: str | None,
    model: str | None,
    fallbacks: tuple[str, ...],
    size: str | None,
    aspect: str | None,
    steps: int | None,
    guidance: float | None,
    seed: int | None,
    negative: str | None,
    count: int,
    token: str | None,
    output: str | None,
    as_json: bool,
    timeout: float | None,
    no_progress: bool,
    no_history: bool,
    enhance: bool,
    enhance_model: str | None,
    **options: Any,
) -> None:
    """Generate images from PROMPT and save them.

    PROMPT may be `-` (or left out when piping) to read it from stdin. The saved files'
    paths are printed one per line; nothing overwrites an existing file.

    \b
    Examples:
      imagegate generate "a cute cat"
      imagegate generate -m gitee/qwen-image --aspect 16:9 -n 2 "a harbour at dusk" -o out/
      imagegate generate -m any/z-image-turbo "a lighthouse"   # whichever provider can
      echo "a red fox" | imagegate generate - --json
      imagegate generate --enhance "a lighthouse"             # a chat model rewrites it
    """
    console.add_secret(token)
    prompt = _read_prompt(prompt)
    if size and aspect:
        raise click.UsageError("give --size or --aspect, not both")
    params: dict[str, Any] = {
        "size": size,
        "aspect_ratio": aspect,
        "steps": steps,
        "guidance_scale": guidance,
        "seed": seed,
        "negative_prompt": negative,
        "n": count,
    }
    params.update({k: v for k, v in options.items() if v is not None and v is not False})
    if fallbacks:
        params["fallbacks"] = list(fallbacks)
    if enhance or enhance_model:
        params["enhance"] = enhance_model or True
    run_generation(
        prompt,
        model=model,
        token=token,
        timeout=timeout,
        params=params,
        output=output,
        as_json=as_json,
        show_progress=progress.wanted(disabled=no_progress),
        record=not no_history,
    )


def run_generation(
    prompt: str,
    *,
    model: str | None,
    token: str | None,
    timeout: float | None,
    params: dict[str, Any],
    output: str | None,
    as_json: bool,
    show_progress: bool,
    record: bool,
) -> None:
    """Generate, save, record and print: `generate` and `history rerun` both end here."""
    from imagegate.history import cli_history_enabled

    job = _Job(prompt, model, token, timeout, params, output, show_progress)
    job.record = record and cli_history_enabled()
    result, paths = _run(job)
    for warning in result.warnings:
        console.warn(warning)
    if as_json:
        click.echo(json.dumps(_document(result, prompt, paths), indent=2, ensure_ascii=False))
    else:
        for path in paths:
            click.echo(str(path))


@dataclass
class _Job:
    prompt: str
    model: str | None
    token: str | None
    timeout: float | None
    params: dict[str, Any]
    output: str | None
    show_progress: bool
    record: bool = True


def _read_prompt(prompt: str | None) -> str:
    if prompt is None or prompt == "-":
        if prompt is None and sys.stdin.isatty():
            raise click.UsageError("missing PROMPT (give it as an argument, or `-` for stdin)")
        prompt = sys.stdin.read().strip()
        if not prompt:
            raise click.UsageError("the prompt read from stdin is empty")
    return prompt


def _run(job: _Job) -> tuple[ImageResult, list[Path]]:
    """Run the request on a fresh event loop; Ctrl-C cancels it and the provider's job."""
    from imagegate.errors import Cancelled

    try:
        return asyncio.run(_generate(job))
    except KeyboardInterrupt:
        # asyncio.run cancelled the task (and with it the provider call) before re-raising.
        raise Cancelled("interrupted; the generation was cancelled") from None


async def _generate(job: _Job) -> tuple[ImageResult, list[Path]]:
    gate_options: dict[str, Any] = {} if job.timeout is None else {"timeout": job.timeout}
    async with factory.make_gate(**gate_options) as gate:
        gate.history_source = "cli"
        line = None
        ticker = None
        if job.show_progress:
            family = gate.get_family(job.model) if job.model else None
            if family is not None:
                line = progress.ProgressLine("any", family.full_id)
            else:
                chosen = gate.get_model(job.model)
                line = progress.ProgressLine(chosen.provider.id, chosen.full_id)
            ticker = asyncio.ensure_future(line.tick())
        try:
            result = await gate.agenerate(
                job.prompt,
                model=job.model,
                token=job.token,
                progress=line,
                timeout=job.timeout,
                history=job.record,
                **job.params,
            )
            if line is not None:
                line.events.clear()
                line(_fetching(result))
            # Fetch every image now, inside the loop, so saving afterwards cannot fail half-way.
            await asyncio.gather(*(image.aread() for image in result.images))
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            if line is not None:
                line.clear()
        paths = _save(result, job.prompt, job.output)
        await gate.history.saved(result, paths)
        return result, paths


def _fetching(result: ImageResult):
    from imagegate import Progress

    return Progress(provider=result.provider, model=result.model, stage="fetching")


def _save(result: ImageResult, prompt: str, target: str | None) -> list[Path]:
    planned = output.planned_paths(
        result.images, prompt=prompt, output=target, created=result.created
    )
    saved = []
    for image, path in zip(result.images, planned, strict=True):
        final = output.save_new(image, path)
        if target and not output.is_directory_target(target):
            warning = output.mismatch_warning(final, image)
            if warning:
                console.warn(warning)
        saved.append(final)
    return saved


def _document(result: ImageResult, prompt: str, paths: list[Path]) -> dict[str, Any]:
    request = result.request
    return {
        "id": result.history_id,
        "prompt": prompt,
        "model": result.model,
        "provider": result.provider,
        "created": result.created,
        "elapsed": round(result.elapsed, 3),
        "parameters": {
            "width": request.width,
            "height": request.height,
            "aspect_ratio": request.aspect_ratio,
            "steps": request.steps,
            "guidance_scale": request.guidance_scale,
            "negative_prompt": request.negative_prompt,
            "seed": request.seed,
            "n": request.n,
            **{name: getattr(request, name) for name in OPENAI_FIELDS if getattr(request, name)},
        },
        "images": [
            {
                "path": str(path.resolve()),
                "model": image.model,
                "provider": image.provider,
                "seed": image.seed,
                "width": image.width,
                "height": image.height,
                "mime_type": image.mime_type,
                "bytes": len(image.data or b""),
            }
            for image, path in zip(result.images, paths, strict=True)
        ],
        "warnings": list(result.warnings),
        "chain": [step.model_dump(mode="json") for step in result.chain],
        **(
            {"revised_prompt": result.revised_prompt, "enhanced_by": result.enhanced_by}
            if result.revised_prompt
            else {}
        ),
    }

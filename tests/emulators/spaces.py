"""The four HuggingFace Spaces as real Gradio apps in one FastAPI process (protocols.md 4, 7).

Each Space is a Gradio Blocks app mounted at `/<space subdomain>` (the part before
`.hf.space`), so `Client("<root>/luca115-z-image-turbo/")` speaks the full Space protocol
(config, info, queue join/data, progress, files, cancel) exactly as to huggingface.co, and
one `IMAGEGATE_HUGGINGFACE_BASE_URL=<root>` points every Space at this process.

Signatures follow protocols.md 4.3: api_name, inputs in the Space's order with its component
types, ranges and defaults, and outputs in its types (a WebP `gr.Image` of the requested
size and the seed as a number; qwen-image-fast reports "Seed used for generation: N").
`mrfakename-z-image-turbo` is the z-image fallback mirror with the same signature.
The function spreads `control.delay` over its steps and reports them with `gr.Progress`.

Recorded: every call of a Space function (method `CALL`, path `/<space>/<api_name>`, json
`{"space", "api_name", "inputs"}`, the headers of the queue join, among them
`x-hf-authorization`), every `GET /<space>/config` (one per gradio_client `Client`), every
`POST /<space>/gradio_api/cancel`, and a `CANCELLED` entry when a running call is cancelled.

Faults (`space=` limits any of them to one Space): gradio_error (message=), zerogpu_quota
and delay (seconds=) are raised inside the function. A middleware answers the HTTP ones:
queue_full (503 on queue/join or a POST to gradio_api/call/*), status (status=, message=; on
that join, or on config when it comes first), space_down (404 for every request to the
Space, `times` requests long) and space_sleeping (503 with an HTML page). Tokens
(x-hf-authorization) follow control.py: "invalid" -> 401 on config and join, "ratelimit" ->
429 there, "quota" -> the ZeroGPU quota error from the function.
"""

# No `from __future__ import annotations`: Gradio finds `request: gr.Request` by evaluated hint.
import asyncio
import os
import random
import tempfile
from pathlib import Path
from typing import Any

from .control import Control, Recorded, token_kind
from .images import render

__all__ = ["BASE_PATH", "QWEN_SIZES", "SPACES", "ZEROGPU_QUOTA_MESSAGE", "create_app"]

BASE_PATH = ""

ZEROGPU_QUOTA_MESSAGE = (
    "You have exceeded your GPU quota (60s requested vs. 56s left). "
    '<a style="white-space: nowrap;text-underline-offset: 2px;color: var(--body-text-color)" '
    'href="https://huggingface.co/join">Create a free account</a> to get more usage quota.'
)

# Qwen-Image's usual presets (protocols.md 4.3 (b): the Space's own table is UNCERTAIN).
QWEN_SIZES = {
    "1:1": (1328, 1328),
    "16:9": (1664, 928),
    "9:16": (928, 1664),
    "4:3": (1472, 1104),
    "3:4": (1104, 1472),
    "3:2": (1584, 1056),
    "2:3": (1056, 1584),
}

MAX_SEED = 2**31 - 1

SPACES = (
    "luca115-z-image-turbo",
    "mrfakename-z-image-turbo",
    "mcp-tools-qwen-image-fast",
    "aidc-ai-ovis-image-7b",
    "black-forest-labs-flux-1-schnell",
)

_SLEEPING_PAGE = (
    "<!DOCTYPE html><html><head><title>Space is sleeping</title></head><body>"
    "<h1>This Space is sleeping due to inactivity</h1><p>Restart this Space</p></body></html>"
)


def create_app(control: Control) -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import gradio as gr
    from fastapi import FastAPI

    app = FastAPI()
    for route in control.routes():
        app.router.routes.append(route)
    builders = {
        "luca115-z-image-turbo": _z_image,
        "mrfakename-z-image-turbo": _z_image,
        "mcp-tools-qwen-image-fast": _qwen_image_fast,
        "aidc-ai-ovis-image-7b": _ovis_image,
        "black-forest-labs-flux-1-schnell": _flux_schnell,
    }
    # The Spaces keep their files apart from gradio_client's download dir (<tmp>/gradio), so a
    # test can tell that the plugin leaves no file behind.
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(Path(tempfile.gettempdir()) / "imagegate-spaces-emulator")
    try:
        for space, build in builders.items():
            blocks = build(gr, _Runner(control, space))
            gr.mount_gradio_app(app, blocks, path=f"/{space}", show_error=True)
    finally:
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous
    app.add_middleware(_FaultMiddleware, control=control)
    return app


class _Runner:
    """What every Space function shares: record, honour faults and tokens, step, render."""

    def __init__(self, control: Control, space: str) -> None:
        self.control = control
        self.space = space

    async def run(
        self,
        gr: Any,
        api_name: str,
        inputs: dict[str, Any],
        request: Any,
        progress: Any,
        steps: int,
    ) -> None:
        headers = {k.lower(): v for k, v in dict(request.headers).items()} if request else {}
        self.control.record(
            Recorded(
                method="CALL",
                path=f"/{self.space}{api_name}",
                headers=headers,
                query={},
                body=b"",
                json={"space": self.space, "api_name": api_name, "inputs": inputs},
            )
        )
        token = headers.get("x-hf-authorization", "").removeprefix("Bearer ").strip()
        fault = _take(self.control, self.space, "gradio_error", "zerogpu_quota", "delay")
        if fault is not None and fault.kind == "gradio_error":
            raise gr.Error(fault.params.get("message", "Simulated failure"))
        if (fault is not None and fault.kind == "zerogpu_quota") or token_kind(token) == "quota":
            raise gr.Error(ZEROGPU_QUOTA_MESSAGE)
        extra = float(fault.params.get("seconds", 1.0)) if fault is not None else 0.0
        try:
            if extra:
                await asyncio.sleep(extra)
            per_step = self.control.delay / max(1, steps)
            for step in range(steps):
                progress((step, steps), desc="Generating", unit="steps")
                await asyncio.sleep(per_step)
            progress((steps, steps), desc="Generating", unit="steps")
        except asyncio.CancelledError:
            self.control.record(
                Recorded("CANCELLED", f"/{self.space}{api_name}", headers, {}, b"", inputs)
            )
            raise

    @staticmethod
    def image(prompt: str, seed: int, width: int, height: int) -> Any:
        import io

        from PIL import Image

        return Image.open(io.BytesIO(render(prompt, int(seed), int(width), int(height), "webp")))


def _seed(seed: float | int, randomize: bool, top: int) -> int:
    return random.randint(0, top) if randomize else int(seed)


def _z_image(gr: Any, runner: _Runner) -> Any:
    async def generate_image(
        prompt: str,
        height: float,
        width: float,
        num_inference_steps: float,
        seed: float,
        randomize_seed: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's own idiom)
    ) -> tuple[Any, int]:
        inputs = dict(
            prompt=prompt,
            height=height,
            width=width,
            num_inference_steps=num_inference_steps,
            seed=seed,
            randomize_seed=randomize_seed,
        )
        api = "/generate_image"
        await runner.run(gr, api, inputs, request, progress, int(num_inference_steps))
        used = _seed(seed, randomize_seed, 2**32 - 1)
        return runner.image(prompt, used, width, height), used

    with gr.Blocks(title="Z-Image Turbo") as blocks:
        prompt = gr.Textbox(label="Prompt")
        height = gr.Slider(512, 2048, value=1024, step=64, label="Height")
        width = gr.Slider(512, 2048, value=1024, step=64, label="Width")
        steps = gr.Slider(1, 20, value=9, step=1, label="Inference Steps")
        seed = gr.Number(value=42, precision=0, label="Seed", visible=False)
        randomize = gr.Checkbox(value=True, label="Randomize Seed")
        button = gr.Button("Generate")
        image = gr.Image(label="Generated Image", format="webp")
        seed_used = gr.Number(label="Seed Used")
        wiring = dict(
            fn=generate_image,
            inputs=[prompt, height, width, steps, seed, randomize],
            outputs=[image, seed_used],
            api_name="generate_image",
        )
        button.click(**wiring)
        prompt.submit(**{**wiring, "api_name": "generate_image_1"})
    return blocks


def _qwen_image_fast(gr: Any, runner: _Runner) -> Any:
    async def generate_image(
        prompt: str,
        seed: float,
        randomize_seed: bool,
        aspect_ratio: str,
        guidance_scale: float,
        num_inference_steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, str]:
        inputs = dict(
            prompt=prompt,
            seed=seed,
            randomize_seed=randomize_seed,
            aspect_ratio=aspect_ratio,
            guidance_scale=guidance_scale,
            num_inference_steps=num_inference_steps,
        )
        api = "/generate_image"
        await runner.run(gr, api, inputs, request, progress, int(num_inference_steps))
        used = _seed(seed, randomize_seed, MAX_SEED)
        width, height = QWEN_SIZES[aspect_ratio]
        return runner.image(prompt, used, width, height), f"Seed used for generation: {used}"

    with gr.Blocks(title="Qwen-Image-Fast") as blocks:
        prompt = gr.Textbox(label="Prompt")
        seed = gr.Slider(0, MAX_SEED, value=0, step=1, label="Seed")
        randomize = gr.Checkbox(value=True, label="Randomize seed")
        ratio = gr.Dropdown(list(QWEN_SIZES), value="16:9", label="Aspect ratio")
        guidance = gr.Slider(1.0, 10.0, value=1.0, step=0.1, label="Guidance scale")
        steps = gr.Slider(4, 28, value=8, step=1, label="Inference steps")
        button = gr.Button("Generate")
        image = gr.Image(label="Result", format="webp")
        seed_text = gr.Textbox(label="Seed")
        button.click(
            fn=generate_image,
            inputs=[prompt, seed, randomize, ratio, guidance, steps],
            outputs=[image, seed_text],
            api_name="generate_image",
        )
    return blocks


def _ovis_image(gr: Any, runner: _Runner) -> Any:
    # Whether Ovis reports a seed is UNCERTAIN (protocols.md 4.3 (c)): it answers the image only.
    async def generate(
        prompt: str,
        height: float,
        width: float,
        seed: float,
        num_inference_steps: float,
        guidance_scale: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Any:
        inputs = dict(
            prompt=prompt,
            height=height,
            width=width,
            seed=seed,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
        )
        await runner.run(gr, "/generate", inputs, request, progress, int(num_inference_steps))
        return runner.image(prompt, int(seed), width, height)

    with gr.Blocks(title="Ovis-Image-7B") as blocks:
        prompt = gr.Textbox(label="Prompt")
        height = gr.Slider(256, 2048, value=1024, step=32, label="Height")
        width = gr.Slider(256, 2048, value=1024, step=32, label="Width")
        seed = gr.Number(value=42, precision=0, label="Seed")
        steps = gr.Slider(1, 50, value=24, step=1, label="Steps")
        guidance = gr.Slider(0.0, 20.0, value=4.0, step=0.5, label="Guidance scale")
        button = gr.Button("Generate")
        image = gr.Image(label="Image", format="webp")
        button.click(
            fn=generate,
            inputs=[prompt, height, width, seed, steps, guidance],
            outputs=[image],
            api_name="generate",
        )
    return blocks


def _flux_schnell(gr: Any, runner: _Runner) -> Any:
    async def infer(
        prompt: str,
        seed: float,
        randomize_seed: bool,
        width: float,
        height: float,
        num_inference_steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, int]:
        inputs = dict(
            prompt=prompt,
            seed=seed,
            randomize_seed=randomize_seed,
            width=width,
            height=height,
            num_inference_steps=num_inference_steps,
        )
        await runner.run(gr, "/infer", inputs, request, progress, int(num_inference_steps))
        used = _seed(seed, randomize_seed, MAX_SEED)
        return runner.image(prompt, used, width, height), used

    with gr.Blocks(title="FLUX.1 [schnell]") as blocks:
        prompt = gr.Text(label="Prompt")
        seed = gr.Slider(0, MAX_SEED, value=0, step=1, label="Seed")
        randomize = gr.Checkbox(value=True, label="Randomize seed")
        width = gr.Slider(256, 2048, value=1024, step=32, label="Width")
        height = gr.Slider(256, 2048, value=1024, step=32, label="Height")
        steps = gr.Slider(1, 50, value=4, step=1, label="Number of inference steps")
        button = gr.Button("Run")
        image = gr.Image(label="Result", format="webp")
        button.click(
            fn=infer,
            inputs=[prompt, seed, randomize, width, height, steps],
            outputs=[image, seed],
            api_name="infer",
        )
    return blocks


def _take(control: Control, space: str, *kinds: str) -> Any:
    """The head fault if it is one of `kinds` and concerns `space` (all Spaces when unset)."""
    head = control.faults[0] if control.faults else None
    if head is None or head.kind not in kinds:
        return None
    if head.params.get("space") not in (None, space):
        return None
    return control.take(head.kind)


class _FaultMiddleware:
    """Answers the HTTP-level faults before Gradio sees the request (pure ASGI: cheap)."""

    def __init__(self, app: Any, control: Control) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        space, _, rest = path.lstrip("/").partition("/")
        if space not in SPACES:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        if rest in ("config", "gradio_api/cancel"):
            self.control.record(Recorded(method, path, headers, {}, b""))
        answer = self._fault(space, rest, method, headers)
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, content_type, body = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _fault(
        self, space: str, rest: str, method: str, headers: dict[str, str]
    ) -> tuple[int, str, bytes] | None:
        import json

        if _take(self.control, space, "space_down"):
            return 404, "application/json", b'{"detail":"Not Found"}'
        if _take(self.control, space, "space_sleeping"):
            return 503, "text/html; charset=utf-8", _SLEEPING_PAGE.encode()
        is_join = method == "POST" and (
            rest == "gradio_api/queue/join" or rest.startswith("gradio_api/call/")
        )
        if not (is_join or rest == "config"):
            return None
        kind = token_kind(headers.get("x-hf-authorization", "").removeprefix("Bearer ").strip())
        if kind == "invalid":
            return (
                401,
                "application/json",
                b'{"detail":"Invalid credentials in Authorization header"}',
            )
        if kind == "ratelimit":
            return 429, "application/json", b'{"detail":"Too Many Requests"}'
        if is_join and _take(self.control, space, "queue_full"):
            return 503, "application/json", b'{"detail":"Queue is full! Please try again."}'
        fault = _take(self.control, space, "status")
        if fault is not None:
            status = int(fault.params.get("status", 500))
            message = fault.params.get("message", f"HTTP {status}")
            return status, "application/json", json.dumps({"detail": message}).encode()
        return None

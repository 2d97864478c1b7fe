"""The four HuggingFace Spaces as real Gradio apps in one FastAPI process (protocols.md 4, 7).

Each Space is a Gradio Blocks app mounted at `/<space subdomain>` (the part before
`.hf.space`), so `Client("<root>/luca115-z-image-turbo/")` speaks the full Space protocol
(config, info, queue join/data, progress, files, cancel) exactly as to huggingface.co, and
one `IMAGEGATE_HUGGINGFACE_BASE_URL=<root>` points every Space at this process. The apps
themselves (signatures, and the pipelines' size rules that raise inside the function) are
in `spaces_apps.py`. `mrfakename-z-image-turbo` is the z-image fallback mirror.

As on huggingface.co, the Spaces run with `show_error=False`: a `gr.Error` reaches the client
with its message, any other exception as Gradio's opaque "has not enabled verbose error
reporting" error (`control.options["show_error"] = True` shows them, like a Space that
launched with it). The same five Spaces with a `gr.Gallery` output instead of one image are
mounted under `/_gallery/<space>` (a base URL of `<root>/_gallery`).

Recorded: every call of a Space function (method `CALL`, path `/<space>/<api_name>`, json
`{"space", "api_name", "inputs"}`, the headers of the queue join, among them
`x-hf-authorization`), every `GET /<space>/config` (one per gradio_client `Client`), every
`POST /<space>/gradio_api/cancel`, and a `CANCELLED` entry when a running call is cancelled.

Faults (`space=` limits any of them to one Space): gradio_error (message=), zerogpu_quota
(variant= "current": "...free GPU quota (60s requested vs. 30s left). Try again in 0:12:34",
"older": "...Sign-up on Hugging Face to get more quotas or retry in 0:09:48", "signup":
the anonymous wording with a link and no wait), zerogpu_busy ("No GPU was available after
60s"), crash (message=: an exception that is not a gr.Error) and delay (seconds=) are raised
inside the function. A middleware answers the HTTP ones: queue_full (503 on queue/join or a
POST to gradio_api/call/*), status (status=, message=; on that join, or on config when it
comes first), space_down (404 for every request to the Space, `times` requests long) and
space_sleeping (503 with an HTML page; redirect=True: a 302 to the Space's page on the Hub,
which answers 200 HTML, as huggingface.co does for a Space that is not running). Tokens
(x-hf-authorization) follow control.py: "invalid" -> 401 on config and join, "ratelimit" ->
429 there, "quota" -> the current ZeroGPU quota error from the function.
"""

# No `from __future__ import annotations`: Gradio finds `request: gr.Request` by evaluated hint.
import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from .control import Control, Recorded, token_kind
from .images import render
from .spaces_apps import BUILDERS, MAX_SEED, QWEN_SIZES

__all__ = [
    "BASE_PATH",
    "GALLERY_PREFIX",
    "MAX_SEED",
    "QWEN_SIZES",
    "SPACES",
    "ZEROGPU_BUSY_MESSAGE",
    "ZEROGPU_MESSAGES",
    "ZEROGPU_QUOTA_MESSAGE",
    "create_app",
]

BASE_PATH = ""
GALLERY_PREFIX = "/_gallery"

ZEROGPU_MESSAGES = {
    # today's wording (spaces' `schedule`: the wait is a timedelta printed as H:MM:SS)
    "current": "You have exceeded your free GPU quota (60s requested vs. 30s left). "
    "Try again in 0:12:34",
    # the older wording (levihsu/OOTDiffusion#205)
    "older": "You have exceeded your GPU quota (46s left vs. 60s requested). "
    "Sign-up on Hugging Face to get more quotas or retry in 0:09:48.",
    # anonymous callers: a sign-up link, no wait (e2b-dev/open-computer-use#28)
    "signup": "You have exceeded your GPU quota (60s requested vs. 56s left). "
    '<a style="white-space: nowrap;text-underline-offset: 2px;color: var(--body-text-color)" '
    'href="https://huggingface.co/join">Create a free account</a> to get more usage quota.',
}
ZEROGPU_QUOTA_MESSAGE = ZEROGPU_MESSAGES["current"]
ZEROGPU_BUSY_MESSAGE = "No GPU was available after 60s. Retry later"

SPACES = tuple(BUILDERS)

_SLEEPING_PAGE = (
    "<!DOCTYPE html><html><head><title>Space is sleeping</title></head><body>"
    "<h1>This Space is sleeping due to inactivity</h1><p>Restart this Space</p></body></html>"
)
_HUB_PAGE = (
    "<!DOCTYPE html><html><head><title>{name} - a Hugging Face Space</title></head>"
    "<body><h1>{name}</h1><p>This Space is sleeping. Restart this Space</p></body></html>"
)


def create_app(control: Control) -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()
    for route in control.routes():
        app.router.routes.append(route)

    @app.get("/spaces/{owner}/{name}")
    async def hub_page(owner: str, name: str) -> HTMLResponse:
        return HTMLResponse(_HUB_PAGE.format(name=f"{owner}/{name}"))

    # The Spaces keep their files apart from gradio_client's download dir (<tmp>/gradio), so a
    # test can tell that the plugin leaves no file behind.
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(Path(tempfile.gettempdir()) / "imagegate-spaces-emulator")
    try:
        for space, build in BUILDERS.items():
            for prefix, gallery in (("", False), (GALLERY_PREFIX, True)):
                runner = _Runner(control, space)
                runner.blocks = build(gr, runner, gallery=gallery)
                gr.mount_gradio_app(app, runner.blocks, path=f"{prefix}/{space}", show_error=False)
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
        self.blocks: Any = None

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
        self.blocks.show_error = bool(self.control.options.get("show_error", False))
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
        kinds = ("gradio_error", "zerogpu_quota", "zerogpu_busy", "crash", "delay")
        fault = _take(self.control, self.space, *kinds)
        kind = fault.kind if fault is not None else None
        if kind == "gradio_error":
            raise gr.Error(fault.params.get("message", "Simulated failure"))
        if kind == "zerogpu_quota" or token_kind(token) == "quota":
            variant = fault.params.get("variant", "current") if fault is not None else "current"
            raise gr.Error(ZEROGPU_MESSAGES[variant])
        if kind == "zerogpu_busy":
            raise gr.Error(ZEROGPU_BUSY_MESSAGE)
        if kind == "crash":
            raise RuntimeError(fault.params.get("message", "CUDA error: an illegal memory access"))
        extra = float(fault.params.get("seconds", 1.0)) if kind == "delay" else 0.0
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
        space, _, rest = path.removeprefix(GALLERY_PREFIX).lstrip("/").partition("/")
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
        status, content_type, body, *extra = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _fault(self, space: str, rest: str, method: str, headers: dict[str, str]) -> tuple | None:
        import json

        if _take(self.control, space, "space_down"):
            return 404, "application/json", b'{"detail":"Not Found"}'
        fault = _take(self.control, space, "space_sleeping")
        if fault is not None and fault.params.get("redirect"):
            owner, _, name = space.partition("-")
            location = f"/spaces/{owner}/{name}".encode()
            return 302, "text/html; charset=utf-8", b"", (b"location", location)
        if fault is not None:
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

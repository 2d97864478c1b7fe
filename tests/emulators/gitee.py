"""Gitee AI (模力方舟) serverless API, as protocols.md section 2 describes it.

Synchronous: `POST /v1/images/generations` (Bearer auth, JSON) answers `{"created", "data":
[{"url"} | {"b64_json"}]}`. It checks what the real service checks: a known model, `width`
and `height` (or `size`), no `negative_prompt` for FLUX models, guidance named `cfg_scale`
for Qwen-Image* models and `guidance_scale` for the others (the wrong name is a 400, so a
client that mixes them up is caught).

Asynchronous: `POST /v1/async/images/generations` answers `{"task_id", "status": "waiting",
"created_at", "urls": {"get", "cancel"}}`; `GET /api/v1/task/{id}` (also `/v1/task/{id}` and
the old `/v1/async/tasks/{id}`) moves waiting -> running -> success with `output.file_url`
after `control.task_seconds`; `POST .../task/{id}/cancel` cancels it.

Errors come in the three shapes clients meet: `{"error": {"message", "type", "code"}}`,
`{"message"}` and `{"error_message"}` (the `status` fault takes `shape=` error|message|
error_message|text). Images are served at `GET /files/{id}`.

Fault kinds honoured: status (status=, message=, shape=), quota (status=402, balance=False:
with balance=True the 403 `{"code":30001,"message":"Sorry, your account balance is
insufficient"}` answer; variant= one of `QUOTA_VARIANTS`, the service's Chinese answers for
a spent daily quota (429), an unpaid balance (403), spent resource-package calls (400) and
arrears (402)), rate_limit (retry_after=), delay (seconds=), malformed_json,
missing_data (a 200 without `data`, a submit without `task_id`, or a finished task without
`output`), truncated_image, task_failed (message=, status="failure", in_output=False: the
reason in `output.error` instead of `message`). Provider-specific: `old_poll_path` (the
next submit answers without `urls`, and its task is served only at `/v1/task/{id}`),
`async_refused` (the next task submission is refused as the task API refuses a model).

Not every model is served by the task API: a task for one of `ASYNC_REFUSED` is a 400
(which models is UNCERTAIN; the emulator refuses Qwen-Image, so the case is always there).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import images
from .control import Control, Fault, bearer_token, token_kind

BASE_PATH = "/v1"

# Model -> (steps range, negative prompt allowed); from the models table of protocols.md 2.1.
MODELS: dict[str, tuple[tuple[int, int], bool]] = {
    "z-image-turbo": ((1, 20), True),
    "GLM-Image": ((1, 50), True),
    "Qwen-Image": ((4, 50), True),
    "Qwen-Image-2512": ((1, 50), True),
    "flux-1-schnell": ((1, 50), False),
    "FLUX_1-Krea-dev": ((1, 50), False),
    "FLUX.1-dev": ((1, 50), False),
}
MAX_SEED = 2**31 - 1
ASYNC_REFUSED = frozenset({"Qwen-Image"})
QUOTA_VARIANTS: dict[str, tuple[int, str]] = {
    "zh_daily": (429, "今日免费额度已用完，请明天再试或购买资源包"),
    "zh_balance": (403, "账户余额不足，请充值后再使用"),
    "zh_count": (400, "您的模型调用次数已用完"),
    "zh_arrears": (402, "账户已欠费，请充值后继续使用"),
}


class Reject(Exception):
    """An answer in Gitee's error shape, raised from anywhere in a handler."""

    def __init__(self, status: int, message: str, shape: str = "error", **headers: str) -> None:
        super().__init__(message)
        self.status, self.message, self.shape, self.headers = status, message, shape, headers

    def response(self) -> Response:
        if self.shape == "text":
            return PlainTextResponse(self.message, self.status, headers=self.headers)
        if self.shape == "message":
            body: dict[str, Any] = {"message": self.message}
        elif self.shape == "error_message":
            body = {"error_message": self.message}
        elif self.shape == "code":
            body = {"code": 30001, "message": self.message, "data": None}
        else:
            body = {"error": {"message": self.message, "type": "invalid_request_error"}}
            body["error"]["code"] = self.status
        return JSONResponse(body, self.status, headers=self.headers)


@dataclass
class Task:
    id: str
    params: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    failure: Fault | None = None
    cancelled: bool = False
    old_path_only: bool = False
    missing_output: bool = False
    output: dict[str, Any] | None = None


def create_app(control: Control) -> Starlette:
    tasks: dict[str, Task] = {}

    async def record(request: Request) -> Any:
        return (await control.record_request(request))[1]

    async def before_answer() -> None:
        """The standing delay and scripted faults that apply to any answer."""
        delay = control.delay
        fault = control.take("delay")
        if fault:
            delay += float(fault.params.get("seconds", 1.0))
        if delay:
            await asyncio.sleep(delay)
        fault = control.take("status", "quota", "rate_limit")
        if fault is None:
            return
        if fault.kind == "status":
            raise Reject(
                int(fault.params.get("status", 500)),
                fault.params.get("message", "Internal server error"),
                fault.params.get("shape", "error"),
            )
        if fault.kind == "quota":
            raise quota_answer(fault.params)
        raise rate_limit_answer(fault.params)

    def check_auth(request: Request) -> None:
        kind = token_kind(bearer_token(request))
        if kind == "missing":
            raise Reject(401, "Unauthorized: missing Authorization Bearer token")
        if kind == "invalid":
            raise Reject(401, "Invalid API key")
        if kind == "expired":
            raise Reject(401, "Your access token has expired, please create a new one")
        if kind == "quota":
            raise quota_answer({})
        if kind == "ratelimit":
            raise rate_limit_answer({})

    def image_params(body: Any, request: Request) -> dict[str, Any]:
        """The checks of the real endpoint; the values an image is drawn from."""
        if "json" not in request.headers.get("content-type", ""):
            raise Reject(400, "Content-Type must be application/json")
        if not isinstance(body, dict):
            raise Reject(400, "request body must be a JSON object")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise Reject(400, "prompt is required")
        model = body.get("model")
        if model not in MODELS:
            raise Reject(400, f"Model {model!r} does not exist or is not available")
        (low_steps, high_steps), negative_ok = MODELS[model]
        width, height = dimensions(body)
        if body.get("negative_prompt") is not None and not negative_ok:
            raise Reject(400, f"negative_prompt is not supported by model {model}")
        qwen = model.lower().startswith("qwen-image")
        wrong = "guidance_scale" if qwen else "cfg_scale"
        if wrong in body:
            right = "cfg_scale" if qwen else "guidance_scale"
            raise Reject(400, f"unknown parameter {wrong!r} for {model}; use {right!r}")
        for name in ("cfg_scale", "guidance_scale"):
            if name in body and not isinstance(body[name], (int, float)):
                raise Reject(400, f"{name} must be a number")
        steps = body.get("num_inference_steps", low_steps)
        if not isinstance(steps, int) or not low_steps <= steps <= high_steps:
            raise Reject(400, f"num_inference_steps must be {low_steps}-{high_steps}")
        seed = body.get("seed")
        if seed is None:
            seed = secrets.randbelow(MAX_SEED + 1)
        if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise Reject(400, "seed must be an integer in [0, 2147483647]")
        response_format = body.get("response_format", "url")
        if response_format not in ("url", "b64_json"):
            raise Reject(400, "response_format must be 'url' or 'b64_json'")
        count = body.get("num_images_per_prompt", 1)
        if not isinstance(count, int) or not 1 <= count <= 4:
            raise Reject(400, "num_images_per_prompt must be 1-4")
        return {
            "prompt": prompt,
            "seed": seed,
            "width": width,
            "height": height,
            "format": response_format,
            "count": count,
        }

    def dimensions(body: dict[str, Any]) -> tuple[int, int]:
        width, height = body.get("width"), body.get("height")
        if width is None and height is None and isinstance(body.get("size"), str):
            w, _, h = body["size"].lower().partition("x")
            if w.isdigit() and h.isdigit():
                width, height = int(w), int(h)
        if not isinstance(width, int) or not isinstance(height, int):
            raise Reject(400, "width and height (or size 'WxH') are required integers")
        if not (256 <= width <= 2048 and 256 <= height <= 2048):
            raise Reject(400, "width and height must be 256-2048")
        return width, height

    def make_images(request: Request, params: dict[str, Any]) -> list[dict[str, str]]:
        short = control.take("truncated_image") is not None
        items = []
        for index in range(params["count"]):
            data = images.render(
                params["prompt"], params["seed"] + index, params["width"], params["height"]
            )
            if short:
                data = images.truncated(data)
            if params["format"] == "b64_json":
                items.append({"b64_json": base64.b64encode(data).decode("ascii")})
            else:
                image_id = control.store_image(data, "image/png")
                items.append({"url": f"{root(request)}/files/{image_id}.png"})
        return items

    async def generations(request: Request) -> Response:
        body = await record(request)
        try:
            await before_answer()
            check_auth(request)
            params = image_params(body, request)
        except Reject as reject:
            return reject.response()
        if control.take("malformed_json"):
            return PlainTextResponse("<html><body>502 Bad Gateway</body></html>", 200)
        if control.take("missing_data"):
            return JSONResponse({"created": int(time.time())})
        return JSONResponse({"created": int(time.time()), "data": make_images(request, params)})

    async def submit(request: Request) -> Response:
        body = await record(request)
        try:
            await before_answer()
            check_auth(request)
            params = image_params(body, request)
            model = body.get("model") if isinstance(body, dict) else None
            if model in ASYNC_REFUSED or control.take("async_refused") is not None:
                raise Reject(400, f"模型 {model} 暂不支持异步调用 (async tasks are not available)")
        except Reject as reject:
            return reject.response()
        if control.take("malformed_json"):
            return PlainTextResponse("upstream error", 200)
        if control.take("missing_data"):
            return JSONResponse({"status": "waiting"})
        task = Task(id=new_task_id(), params=params, failure=control.take("task_failed"))
        task.old_path_only = control.take("old_poll_path") is not None
        tasks[task.id] = task
        answer = task_body(request, task)
        if task.old_path_only:
            del answer["urls"]
        return JSONResponse(answer)

    async def poll(request: Request) -> Response:
        await record(request)
        task = tasks.get(request.path_params["task_id"])
        try:
            await before_answer()
            check_auth(request)
            if task is None or (task.old_path_only and request.url.path.startswith("/api/")):
                raise Reject(404, "Task not found")
        except Reject as reject:
            return reject.response()
        if control.take("malformed_json"):
            return PlainTextResponse("<html>gateway</html>", 200)
        if task.output is None and status_of(task) == "success" and not task.missing_output:
            task.missing_output = control.take("missing_data") is not None
            if not task.missing_output:
                task.output = {"images": make_images(request, task.params)}
        return JSONResponse(task_body(request, task))

    async def cancel(request: Request) -> Response:
        await record(request)
        task = tasks.get(request.path_params["task_id"])
        try:
            check_auth(request)
            if task is None:
                raise Reject(404, "Task not found")
        except Reject as reject:
            return reject.response()
        if status_of(task) not in ("success", "failure", "failed"):
            task.cancelled = True
        return JSONResponse(task_body(request, task))

    def status_of(task: Task) -> str:
        if task.cancelled:
            return "cancelled"
        elapsed = time.monotonic() - task.created
        if elapsed < control.task_seconds / 3:
            return "waiting"
        if elapsed < control.task_seconds:
            return "running"
        if task.failure is not None:
            return str(task.failure.params.get("status", "failure"))
        return "success"

    def task_body(request: Request, task: Task) -> dict[str, Any]:
        status = status_of(task)
        url = f"{root(request)}/api/v1/task/{task.id}"
        body: dict[str, Any] = {
            "task_id": task.id,
            "status": status,
            "output": None,
            "created_at": task.created_ms,
            "started_at": None if status == "waiting" else task.created_ms + 1,
            "completed_at": None,
            "urls": {"get": url, "cancel": f"{url}/cancel"},
        }
        if status == "success" and task.output is not None:
            item = task.output["images"][0]
            body["output"] = {"file_url": item["url"]} if "url" in item else dict(item)
            body["completed_at"] = int(time.time() * 1000)
        elif task.failure is not None and status == task.failure.params.get("status", "failure"):
            reason = task.failure.params.get("message", "Task failed: generation error")
            if task.failure.params.get("in_output"):
                body["output"] = {"error": reason}
            else:
                body["message"] = reason
        return body

    async def files(request: Request) -> Response:
        image_id = request.path_params["name"].partition(".")[0]
        found = control.images.get(image_id)
        if found is None:
            return PlainTextResponse("NoSuchKey", 404)
        data, mime = found
        return Response(data, media_type=mime)

    routes = [
        Route("/v1/images/generations", generations, methods=["POST"]),
        Route("/v1/async/images/generations", submit, methods=["POST"]),
        Route("/api/v1/task/{task_id}", poll, methods=["GET"]),
        Route("/v1/task/{task_id}", poll, methods=["GET"]),
        Route("/v1/async/tasks/{task_id}", poll, methods=["GET"]),
        Route("/api/v1/task/{task_id}/cancel", cancel, methods=["POST"]),
        Route("/v1/task/{task_id}/cancel", cancel, methods=["POST"]),
        Route("/files/{name}", files, methods=["GET"]),
        *control.routes(),
    ]
    return Starlette(routes=routes)


def quota_answer(params: dict[str, Any]) -> Reject:
    if params.get("variant") in QUOTA_VARIANTS:
        status, message = QUOTA_VARIANTS[params["variant"]]
        return Reject(status, message, params.get("shape", "message"))
    if params.get("balance"):
        return Reject(403, "Sorry, your account balance is insufficient", "code")
    return Reject(
        int(params.get("status", 402)),
        params.get("message", "You have exceeded your daily free quota for this model"),
    )


def rate_limit_answer(params: dict[str, Any]) -> Reject:
    retry_after = str(params.get("retry_after", 1))
    return Reject(429, "Rate limit exceeded, please slow down", **{"Retry-After": retry_after})


def root(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def new_task_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))

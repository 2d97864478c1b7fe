"""ModelScope API-Inference's asynchronous image task API (protocols.md section 3), on loopback.

    POST /v1/images/generations   Bearer auth, `X-ModelScope-Async-Mode: true`;
                                  {model, prompt, size "WxH", seed, steps, negative_prompt,
                                  guidance} -> {"task_id", "request_id"}
    GET  /v1/tasks/{task_id}      Bearer auth, `X-ModelScope-Task-Type: image_generation`;
                                  {"task_status", "task_id", "request_id", ...}
    GET  /files/{image_id}        the generated JPEG (stands in for the OSS link)

Images are JPEG, as the real service's are (its official sample saves `.jpg`), at an address
without a file extension: a client must label them by their bytes.

A task runs for `control.task_seconds` (read at submit): PENDING for its first third, then
RUNNING, then SUCCEED with `output_images: [url]` (or FAILED with `errors.message` and
`error_message`). Without the async header the submit fails, as protocols.md says the real
service does; without the task-type header the poll fails. Unknown body fields are ignored
(the real service does not reject `guidance_scale`, it just does not use it), so tests of a
client must assert the body it sent. Errors: `{"errors": {"message"}, "request_id"}`.

Every answer to a submit carries the `modelscope-ratelimit-*` headers (2000 calls per user
and 200 per model a day, counted per token). Token conventions (control.py): "invalid" and
"expired" -> 401, "quota" -> 429 "Request limit exceeded." with the model's remaining
count at 0, "ratelimit" -> 429 "Request limit exceeded." with calls remaining.

Fault kinds (`control.script(kind, times, **params)`); each is taken by the submit unless
`on="poll"` is given, which makes the next poll take it instead:
    status (status=, message=, retry_after=)
                                    an HTTP error in ModelScope's shape (403, 404, 500...)
    quota (message=, headers=True, scope="model")
                                    429 with model-requests-remaining 0 (headers=False:
                                    none; scope="token": requests-remaining 0 instead)
    rate_limit (retry_after=, headers=True)
                                    429 "Request limit exceeded." with calls remaining
                                    (headers=False: without the rate-limit headers)
    delay (seconds=)                answer late (added to the standing `control.delay`)
    malformed_json                  a 200 whose body is not JSON
    missing_data                    submit: 200 without `task_id`; poll: SUCCEED without
                                    `output_images`
    task_failed (message=, code=, word=)
                                    the task ends FAILED (or `word`: ERROR, CANCELED), with
                                    `errors.message` and `error_message` (taken by the submit)
    status_words (pending=, running=, succeeded=)
                                    the task reports these words instead (taken by the
                                    submit): PROCESSING, SUCCEEDED, SUCCESS, or any unknown word
    truncated_image                 the served PNG is cut in half (taken by the file route)
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import images
from .control import Control, Fault, bearer_token, token_kind

__all__ = ["BASE_PATH", "MODELS", "create_app"]

BASE_PATH = "/v1"

# model id -> (min side, max side), from the official parameter table's per-family ranges
MODELS: dict[str, tuple[int, int]] = {
    "Tongyi-MAI/Z-Image-Turbo": (512, 2048),
    "Qwen/Qwen-Image-2512": (64, 1664),
    "black-forest-labs/FLUX.2-dev": (64, 1024),
    "black-forest-labs/FLUX.1-Krea-dev": (64, 1024),
    "MusePublic/489_ckpt_FLUX_1": (64, 1024),
}

DAILY_LIMIT = 2000
MODEL_DAILY_LIMIT = 200
MAX_SEED = 2**31 - 1
MAX_TEXT = 2000
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")
_SUBMIT_KINDS = (
    "status",
    "quota",
    "rate_limit",
    "delay",
    "malformed_json",
    "missing_data",
    "task_failed",
    "status_words",
)
_POLL_KINDS = ("status", "quota", "rate_limit", "delay", "malformed_json", "missing_data")
AUTH_FAILED = "Authenticaton failed, please make sure that a valid ModelScope token is supplied."
LIMIT_EXCEEDED = "Request limit exceeded."


@dataclass
class Task:
    id: str
    prompt: str
    seed: int
    width: int
    height: int
    started: float
    seconds: float
    words: dict[str, str] = field(default_factory=dict)
    failure: dict[str, Any] | None = None
    image_url: str | None = None

    def status(self, now: float) -> str:
        elapsed = now - self.started
        if elapsed >= self.seconds:
            return "failed" if self.failure is not None else "succeeded"
        return "pending" if elapsed < self.seconds / 3 else "running"


def error(
    status: int, message: str, *, code: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An answer in ModelScope's error shape."""
    errors: dict[str, Any] = {"message": message}
    if code is not None:
        errors["code"] = code
    body = {"errors": errors, "request_id": str(uuid.uuid4())}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(control: Control) -> Starlette:
    tasks: dict[str, Task] = {}
    used: dict[tuple[str, str], int] = {}  # (token, model) -> calls today
    reset_control = control.reset

    def reset() -> None:
        reset_control()
        tasks.clear()
        used.clear()

    control.reset = reset  # type: ignore[method-assign]  # our counters reset with the log

    def take(phase: str, kinds: tuple[str, ...]) -> Fault | None:
        """The next scripted fault if it is meant for this phase (submit, poll or file)."""
        with control._lock:
            head = control.faults[0] if control.faults else None
        if head is None or head.params.get("on", "submit") != phase:
            return None
        return control.take(*kinds)

    async def record(request: Request) -> Any:
        return (await control.record_request(request))[1]

    async def wait(fault: Fault | None) -> None:
        seconds = control.delay
        if fault is not None and fault.kind == "delay":
            seconds += float(fault.params.get("seconds", 1.0))
        if seconds > 0:
            await asyncio.sleep(seconds)

    def limit_headers(token: str, model: str, *, spent: bool = False) -> dict[str, str]:
        total = sum(n for (t, _), n in used.items() if t == token)
        model_used = MODEL_DAILY_LIMIT if spent else used.get((token, model), 0)
        return {
            "modelscope-ratelimit-requests-limit": str(DAILY_LIMIT),
            "modelscope-ratelimit-requests-remaining": str(max(0, DAILY_LIMIT - total)),
            "modelscope-ratelimit-model-requests-limit": str(MODEL_DAILY_LIMIT),
            "modelscope-ratelimit-model-requests-remaining": str(
                max(0, MODEL_DAILY_LIMIT - model_used)
            ),
        }

    def auth_problem(token: str | None) -> JSONResponse | None:
        kind = token_kind(token)
        if kind in ("missing", "invalid"):
            return error(401, AUTH_FAILED)
        if kind == "expired":
            return error(401, "Your ModelScope access token has expired; create a new one.")
        return None

    def quota_answer(token: str, model: str, params: dict[str, Any]) -> JSONResponse:
        headers = limit_headers(token, model, spent=True) if params.get("headers", True) else {}
        if headers and params.get("scope") == "token":  # the user's 2000 a day, not the model's
            headers["modelscope-ratelimit-requests-remaining"] = "0"
            headers["modelscope-ratelimit-model-requests-remaining"] = str(MODEL_DAILY_LIMIT)
        return error(429, params.get("message", LIMIT_EXCEEDED), headers=headers)

    def rate_limit_answer(token: str, model: str, params: dict[str, Any]) -> JSONResponse:
        headers = limit_headers(token, model) if params.get("headers", True) else {}
        if "retry_after" in params:
            headers["Retry-After"] = f"{float(params['retry_after']):g}"
        return error(429, params.get("message", LIMIT_EXCEEDED), headers=headers)

    def scripted(fault: Fault, token: str, model: str) -> Response | None:
        if fault.kind == "status":
            status = int(fault.params.get("status", 500))
            message = fault.params.get("message") or f"Internal error (HTTP {status})."
            retry = fault.params.get("retry_after")
            return error(status, message, headers={"Retry-After": f"{retry:g}"} if retry else None)
        if fault.kind == "quota":
            return quota_answer(token, model, fault.params)
        if fault.kind == "rate_limit":
            return rate_limit_answer(token, model, fault.params)
        if fault.kind == "malformed_json":
            return Response('{"task_id": "', media_type="application/json")
        return None

    async def submit(request: Request) -> Response:
        payload = await record(request)
        fault = take("submit", _SUBMIT_KINDS)
        await wait(fault)
        token = bearer_token(request)
        if (answer := auth_problem(token)) is not None:
            return answer
        assert token is not None
        model = payload.get("model", "") if isinstance(payload, dict) else ""
        if token_kind(token) == "quota":
            return quota_answer(token, model, {})
        if token_kind(token) == "ratelimit":
            return rate_limit_answer(token, model, {})
        if request.headers.get("x-modelscope-async-mode", "").lower() != "true":
            return error(
                400,
                "Synchronous image generation is not supported; "
                "set the header X-ModelScope-Async-Mode: true and poll the task.",
            )
        if fault is not None and (answer := scripted(fault, token, model)) is not None:
            return answer
        if not isinstance(payload, dict):
            return error(400, "The request body must be a JSON object.")
        problem = check(payload)
        if problem is not None:
            return problem
        used[(token, model)] = used.get((token, model), 0) + 1
        headers = limit_headers(token, model)
        if fault is not None and fault.kind == "missing_data":
            return JSONResponse({"request_id": str(uuid.uuid4())}, headers=headers)
        width, height = _size(payload.get("size", "1024x1024"))
        seed = payload.get("seed")
        task = Task(
            id=str(uuid.uuid4()),
            prompt=payload["prompt"],
            seed=random.randint(0, MAX_SEED) if seed is None else seed,
            width=width,
            height=height,
            started=time.monotonic(),
            seconds=control.task_seconds,
        )
        if fault is not None and fault.kind == "task_failed":
            task.words["failed"] = str(fault.params.get("word", "FAILED"))
            task.failure = {
                "code": fault.params.get("code", 422),
                "message": fault.params.get(
                    "message", "Output data may contain inappropriate content."
                ),
            }
        if fault is not None and fault.kind == "status_words":
            task.words = {k: str(v) for k, v in fault.params.items() if k != "on"}
        tasks[task.id] = task
        body = {"task_id": task.id, "request_id": str(uuid.uuid4())}
        return JSONResponse(body, headers=headers)

    async def poll(request: Request) -> Response:
        await record(request)
        fault = take("poll", _POLL_KINDS)
        await wait(fault)
        token = bearer_token(request)
        if (answer := auth_problem(token)) is not None:
            return answer
        assert token is not None
        if request.headers.get("x-modelscope-task-type", "") != "image_generation":
            return error(
                400, "Missing or unsupported X-ModelScope-Task-Type; use image_generation."
            )
        if fault is not None and (answer := scripted(fault, token, "")) is not None:
            return answer
        task = tasks.get(request.path_params["task_id"])
        if task is None:
            return error(404, f"Task {request.path_params['task_id']} not found.")
        state = task.status(time.monotonic())
        word = (
            task.words.get(state)
            or {
                "pending": "PENDING",
                "running": "RUNNING",
                "succeeded": "SUCCEED",
                "failed": "FAILED",
            }[state]
        )
        body: dict[str, Any] = {
            "request_id": str(uuid.uuid4()),
            "task_id": task.id,
            "task_status": word,
        }
        if state in ("pending", "running"):
            body["outputs"] = {}
        elif state == "failed":
            assert task.failure is not None
            body["errors"] = dict(task.failure)
            body["error_message"] = task.failure["message"]
        elif fault is None or fault.kind != "missing_data":
            body["output_images"] = [image_url(request, task)]
        return JSONResponse(body)

    def image_url(request: Request, task: Task) -> str:
        if task.image_url is None:
            jpeg = images.render(task.prompt, task.seed, task.width, task.height, "jpeg")
            image_id = control.store_image(jpeg, "image/jpeg")
            task.image_url = f"{str(request.base_url).rstrip('/')}/files/{image_id}"
        return task.image_url

    async def serve(request: Request) -> Response:
        await record(request)
        stored = control.images.get(request.path_params["image_id"])
        if stored is None:
            return Response("NoSuchKey", status_code=404, media_type="text/plain")
        data, mime = stored
        fault = control.take("truncated_image")
        if fault is not None:
            data = images.truncated(data)
        return Response(data, media_type=mime)

    routes = [
        Route(f"{BASE_PATH}/images/generations", submit, methods=["POST"]),
        Route(f"{BASE_PATH}/tasks/{{task_id}}", poll, methods=["GET"]),
        Route("/files/{image_id}", serve, methods=["GET"]),
        *control.routes(),
    ]
    return Starlette(routes=routes)


def check(payload: dict[str, Any]) -> JSONResponse | None:
    """The 400/404 ModelScope gives for a request it cannot take, or None."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "Parameter 'model' is required.")
    if model not in MODELS:
        return error(404, f"Model '{model}' not found or not available for API-Inference.")
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) >= MAX_TEXT:
        return error(400, f"Parameter 'prompt' is required and must be under {MAX_TEXT} chars.")
    negative = payload.get("negative_prompt")
    if negative is not None and (not isinstance(negative, str) or len(negative) >= MAX_TEXT):
        return error(400, f"Parameter 'negative_prompt' must be a string under {MAX_TEXT} chars.")
    size = payload.get("size", "1024x1024")
    low, high = MODELS[model]
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match is None or not all(low <= int(side) <= high for side in match.groups()):
        return error(400, f"Parameter 'size' must be WxH within [{low}x{low}, {high}x{high}].")
    if not _int_in(payload.get("seed", 0), 0, MAX_SEED):
        return error(400, f"Parameter 'seed' must be an integer in [0, {MAX_SEED}].")
    if not _int_in(payload.get("steps", 1), 1, 100):
        return error(400, "Parameter 'steps' must be an integer in [1, 100].")
    guidance = payload.get("guidance", 1.5)
    if isinstance(guidance, bool) or not isinstance(guidance, int | float):
        return error(400, "Parameter 'guidance' must be a number in [1.5, 20].")
    if not 1.5 <= guidance <= 20:
        return error(400, "Parameter 'guidance' must be a number in [1.5, 20].")
    return None


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _size(size: str) -> tuple[int, int]:
    match = _SIZE.match(size)
    assert match is not None
    return int(match[1]), int(match[2])

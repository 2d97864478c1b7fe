"""The routes: OpenAI's image generation and model list, over one shared `Gate`.

The hot path is lean on purpose: the body is read once with a cap, validated by pydantic-core
straight from bytes, handed to the core, and the answer written as pre-serialized JSON; no
per-request plugin discovery, client or validation of the response.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Header
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate import Gate, __version__
from imagegate.bounds import check_byte_size, check_timeout
from imagegate.catalog import DEFAULT_MODEL
from imagegate.chain import check_fallbacks, parse_fallbacks
from imagegate.errors import ImagegateError, InvalidModel
from imagegate.history import pass_links as pass_links_of
from imagegate.media import MediaStore

from .advice import Caller
from .answers import render
from .auth import caller_tokens
from .callers import read_asks
from .chat import install_chat
from .errors import caller_error, install_handlers, invalid_body
from .fast_lane import install_fast_lane
from .files import image_file
from .generation import Generations, json_response
from .history_view import history_entry, history_list
from .job_routes import add_job_routes
from .job_schemas import STREAM_CONTENT, JobObject
from .jobs import RETENTION, Jobs
from .limits import ClientGone, read_body, require_json, unless_disconnected
from .logs import RequestLogMiddleware
from .models_view import chat_entry, family_entry, model_entry
from .openapi import error_responses, install_openapi
from .ratelimit import RATE_LIMIT_ENV, RateLimitMiddleware, parse_rate_limits
from .schemas import GenerationBody, Health, ImagesResponse, ModelList, ModelListing
from .statecheck import state_health
from .storage import MediaProbe, storage_health

__all__ = ["create_app"]

MAX_BODY = 64 * 1024
"""Bytes; a 4000-character prompt in any script fits several times over."""
_OFF = {"0", "off", "false", "no"}
MAX_JOBS_ENV = "IMAGEGATE_MAX_JOBS"


def create_app(
    gate: Gate | None = None,
    *,
    api_key: str | None = None,
    timeout: float = 300.0,
    max_body: int = MAX_BODY,
    public_url: str | None = None,
    history: bool | None = None,
    pass_links: Iterable[str] | None = None,
    media: MediaStore | str | None = None,
    retention: float | str | None = None,
    fallbacks: Mapping[str, str | Sequence[str]] | str | None = None,
    rate_limits: Iterable[str] | str | None = None,
    max_jobs: int | None = None,
) -> FastAPI:
    """The ASGI app. Without `gate`, one is made (stored tokens only when protected).

    `api_key` (or `IMAGEGATE_API_KEY`) protects the `/v1` routes; `timeout` is the overall
    deadline of one generation in seconds; `public_url` (or `IMAGEGATE_PUBLIC_URL`) is the
    base of `url` answers (default: the address the request came to). Every image is
    stored (`media`, kept for `retention`) and served here, except `url` answers from the
    providers in `pass_links` (or `IMAGEGATE_PASS_LINKS=gitee,modelscope`), whose links
    pass through; `history` records each generation (default: on unless
    `IMAGEGATE_HISTORY=off`). `media` and `retention` configure the gate made here; a given
    gate keeps its own, and its records say `server`. `fallbacks` maps a model to the
    models tried when it cannot serve (`{"gitee/FLUX.1-dev": ["ms/flux-1"]}`, or
    `A=B,C;D=E`); default `IMAGEGATE_FALLBACKS`, read by the gate.
    `rate_limits` (or `IMAGEGATE_RATE_LIMIT`) are windows like `60/minute` per caller.
    `max_jobs` (or `IMAGEGATE_MAX_JOBS`, default 16) async jobs run here at a time; on
    Redis, a replica that is full leaves new jobs to the others.
    """
    timeout = check_timeout(timeout)
    max_body = check_byte_size(max_body, "max_body")
    if api_key is None:
        api_key = os.environ.get("IMAGEGATE_API_KEY") or None
    own_gate = gate is None
    if gate is None:
        gate = Gate(
            use_stored_tokens=api_key is not None,
            timeout=timeout,
            media=media,
            retention=retention,
        )
    chains = parse_fallbacks(fallbacks) if fallbacks else None
    if history is None:
        history = os.environ.get("IMAGEGATE_HISTORY", "").lower() not in _OFF
    if pass_links is None and os.environ.get("IMAGEGATE_PASS_LINKS"):
        pass_links = os.environ["IMAGEGATE_PASS_LINKS"].split(",")
    if pass_links is not None:
        gate.pass_links = pass_links_of(pass_links)
    gate.history_source = "server"
    store = gate.media  # opened now: a bad IMAGEGATE_MEDIA_URL stops the start, not a request
    public_url = public_url or os.environ.get("IMAGEGATE_PUBLIC_URL") or None
    files_base = public_url.rstrip("/") if public_url else None

    def describe(exc: ImagegateError, sent_tokens: bool = False) -> dict[str, Any]:
        """The error object a job's record or a stream's `error` event carries, worded for
        the caller as an error answer is."""
        caller = Caller(protected=api_key is not None, sent_tokens=sent_tokens)
        return caller_error(exc, gate, caller)[1]["error"]

    jobs = Jobs(
        gate,
        store,
        timeout=timeout,
        retention=job_retention(),
        envelope=describe,
        fallbacks=chains,
        history=history,
        max_jobs=job_room(max_jobs),
    )
    timely = Generations(
        gate,
        store,
        api_key=api_key,
        timeout=timeout,
        jobs=jobs,
        describe=describe,
        fallbacks=chains,
        history=history,
    )

    def base_of(request: Request) -> str:
        return files_base or str(request.base_url).rstrip("/")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        gate.catalog  # noqa: B018 - discover the plugins once, before the first request
        check_fallbacks(gate, chains)  # a fallback naming no model fails the start
        jobs.start()  # and pick up the jobs a stopped server left running
        if getattr(app.state, "tune_gc", False):  # `imagegate serve` (gc_tuning.py)
            from .gc_tuning import tune_for_serving

            tune_for_serving()
        try:
            yield
        finally:
            await jobs.aclose()
            if own_gate:
                await gate.aclose()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the installed
    # fastapi-offline package, not from a CDN, so they work on a machine with no network.
    app = FastAPIOffline(
        title="imagegate",
        version=__version__,
        summary="OpenAI-compatible image generation over many providers",
        lifespan=lifespan,
    )
    app.state.gate = gate
    app.state.media = store
    app.state.history = history
    app.state.protected = api_key is not None
    install_handlers(app)
    install_openapi(app)
    limits = parse_rate_limits(
        rate_limits if rate_limits is not None else os.environ.get(RATE_LIMIT_ENV)
    )
    lane_layers: list[Any] = []
    if limits:
        app.add_middleware(
            RateLimitMiddleware, limits=limits, store=lambda: gate.state, api_key=api_key
        )
        lane_layers.append(
            lambda inner: RateLimitMiddleware(
                inner, limits=limits, store=lambda: gate.state, api_key=api_key
            )
        )
    app.add_middleware(RequestLogMiddleware)
    models_cache: dict[int, tuple[object, bytes]] = {}

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return json_response({"status": "ok"})

    media_probe = MediaProbe()

    @app.get(
        "/health",
        response_model=Health,
        responses={
            503: {"model": Health, "description": "The shared state or image store is down"}
        },
    )
    async def health() -> Response:
        """Liveness, with the providers and model count this server offers."""
        catalog = gate.catalog
        state = gate.state
        status, code, problem = await state_health(state)
        unreachable = await media_probe.problem(gate.media)
        storage = storage_health(gate, history=history, unreachable=unreachable)
        if unreachable:  # the images of most answers cannot be stored: send traffic elsewhere
            status, code = "unavailable", 503
        elif status == "ok" and storage.get("degraded"):
            status = "degraded"
        return json_response(
            {
                "status": status,
                "version": __version__,
                "providers": sorted(catalog.providers),
                "models": len(catalog),
                "protected": api_key is not None,
                "state": {"backend": state.kind, "degraded": problem},
                "storage": storage,
            },
            code,
        )

    async def generations(request: Request) -> Response:
        """Generate `n` images; OpenAI's body plus the spec's extensions at the top level."""
        tokens = caller_tokens(request, api_key)
        require_json(request)
        raw = await read_body(request, max_body)
        try:
            body = GenerationBody.model_validate_json(raw)
        except ValidationError as exc:
            raise invalid_body(exc) from None
        request.state.model = body.model or DEFAULT_MODEL
        params, warnings = body.generate_kwargs()
        asks = read_asks(request.headers)
        try:
            if body.stream or not asks.plain:  # streams, jobs, replays, SDK retries
                base = base_of(request)
                return await timely.answer(
                    request,
                    body=body,
                    raw=raw,
                    tokens=tokens,
                    params=params,
                    warnings=warnings,
                    asks=asks,
                    base=base,
                )
            prompt = params.pop("prompt")
            result = await unless_disconnected(
                request,
                gate.agenerate(
                    prompt,
                    token=tokens,
                    timeout=timeout,
                    fallbacks=chains,
                    history=history,
                    keep_images=True,
                    **params,
                ),
            )
        except ClientGone:
            return Response(status_code=499)
        request.state.model = result.model
        return json_response(await render(result, warnings, lambda: base_of(request)))

    # The hot path is a plain Starlette route, placed first so it answers: FastAPI's
    # dependency machinery costs ~50 us a request and this handler needs none of it. The
    # FastAPI route below it exists only to document the body in /docs and /openapi.json.
    app.router.routes.insert(0, Route("/v1/images/generations", generations, methods=["POST"]))
    # and it skips FastAPI's middleware stack too (fast_lane.py): only the request log and
    # the rate limiter run
    install_fast_lane(app, "/v1/images/generations", "POST", generations, lane_layers)

    async def generations_doc(
        x_imagegate_token: str | None = Header(
            default=None,
            description="Protected server: your own provider token(s), `gitee:<token>`, "
            "used instead of the server's.",
        ),
        prefer: str | None = Header(
            default=None,
            description="`respond-async`: answer 202 with a job at once (GET /v1/images/jobs).",
        ),
        idempotency_key: str | None = Header(
            default=None,
            alias="Idempotency-Key",
            max_length=255,
            description="A repeat with the same key replays the first answer (per caller).",
        ),
    ) -> Response:  # pragma: no cover - never routed: the Starlette route above answers
        raise NotImplementedError

    app.post(
        "/v1/images/generations",
        response_model=ImagesResponse,
        responses={
            200: {"content": STREAM_CONTENT, "description": "The images (or, streamed, SSE)"},
            202: {"model": JobObject, "description": "With `Prefer: respond-async`: the job"},
            **error_responses(
                400, 401, 403, 404, 408, 409, 410, 413, 415, 429, 431, 500, 502, 503, 504
            ),
        },
        summary="Generate images",
        description="OpenAI's body plus the spec's extensions at the top level. "
        "The body's limits hold for every model; steps, guidance and each side of the "
        "size are checked against the model's own ranges (GET /v1/models).",
        operation_id="generate_images",
    )(generations_doc)

    install_chat(app, gate, api_key=api_key, timeout=timeout, max_body=max_body)

    @app.get(
        "/v1/images/files/{name}",
        response_class=Response,
        responses={
            200: {
                "description": "The image",
                "content": {
                    mime: {"schema": {"type": "string", "format": "binary"}}
                    for mime in ("image/png", "image/webp", "image/jpeg", "image/gif")
                },
            },
            **error_responses(404, 503),
        },
    )
    async def get_image_file(request: Request, name: str) -> Response:
        """An image this server stored (`<sha256>.<ext>`; ETag, Range, kept for retention)."""
        return await image_file(request, store)

    app.add_api_route(
        "/v1/images/files/{name}", get_image_file, methods=["HEAD"], include_in_schema=False
    )

    @app.get("/v1/images/history", responses=error_responses(401, 403, 429, 503))
    async def get_history(request: Request) -> Response:
        """What this server generated, newest first (protected servers, API key holders)."""
        found = await history_list(request, gate, api_key, base_of(request))
        return found if isinstance(found, Response) else json_response(found)

    @app.get("/v1/images/history/{record_id}", responses=error_responses(401, 403, 404, 429, 503))
    async def get_history_entry(request: Request, record_id: str) -> Response:
        """One record of this server's history."""
        found = await history_entry(request, gate, api_key, base_of(request), record_id)
        return found if isinstance(found, Response) else json_response(found)

    add_job_routes(app, jobs, api_key, base_of)

    @app.get("/v1/models", response_model=ModelList, responses=error_responses(401, 429))
    async def list_models(request: Request) -> Response:
        """Every model, OpenAI's list format; aliases and capabilities as extra fields."""
        caller_tokens(request, api_key)
        catalog = gate.catalog
        cached = models_cache.get(id(catalog))
        if cached is None or cached[0] is not catalog:
            entries = [model_entry(m) for m in catalog]
            entries += [family_entry(f) for f in catalog.families.values()]
            entries += [chat_entry(m) for m in catalog.chat]
            data = {"object": "list", "data": entries}
            cached = (catalog, json.dumps(data, ensure_ascii=False).encode())
            models_cache.clear()
            models_cache[id(catalog)] = cached
        return Response(cached[1], media_type="application/json")

    @app.get(
        "/v1/models/{model_id:path}",
        response_model=ModelListing,
        responses=error_responses(401, 404, 429),
    )
    async def get_model(request: Request, model_id: str) -> Response:
        """One model by any name that works in a request (`ms/flux-2`, `flux-1-schnell`)."""
        caller_tokens(request, api_key)
        if not model_id.strip():
            raise InvalidModel("give a model id: GET /v1/models/<id>", param="model")
        family = gate.get_family(model_id)
        if family is not None:
            return json_response(family_entry(family))
        try:
            return json_response(model_entry(gate.get_model(model_id)))
        except InvalidModel as missing:
            try:
                return json_response(chat_entry(gate.get_chat_model(model_id)))
            except InvalidModel:
                raise missing from None  # its message names the closest image models

    return app


def job_room(value: int | None) -> int:
    """How many async jobs run here at once: `value`, else `IMAGEGATE_MAX_JOBS`, else 16."""
    if value is None:
        setting = os.environ.get(MAX_JOBS_ENV, "").strip()
        if not setting:
            return 16
        try:
            value = int(setting)
        except ValueError:
            value = 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_jobs ({MAX_JOBS_ENV}) must be a whole number of at least 1")
    return value


def job_retention() -> float:
    """Seconds a finished job is kept: `IMAGEGATE_JOB_RETENTION`, default a day."""
    value = os.environ.get("IMAGEGATE_JOB_RETENTION", "").strip()
    try:
        return max(60.0, float(value)) if value else RETENTION
    except ValueError:
        return RETENTION

"""`POST /v1/images/generations` beyond the plain synchronous call: streams, async jobs,
`Idempotency-Key` replays, SDK retries that join their first try, and the client's own
read timeout as the deadline.

The route (app.py) parses the body and keeps the plain call on its fast path; anything its
headers or body ask beyond that comes here.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json
from starlette.responses import Response

from imagegate.errors import AuthRequired, ImagegateError, InvalidRequest

from .answers import ImagesGone, from_record, render
from .callers import Asks, owner_of
from .idempotency import Idempotency, Outcome
from .jobs import Jobs
from .limits import unless_disconnected
from .retries import RetryJoins
from .streaming import MAX_STREAM_N, PING, stream_answer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from imagegate import Gate
    from imagegate.media import MediaStore

    from .schemas import GenerationBody

__all__ = ["AnswerGone", "Generations", "json_response"]


class AnswerGone(ImagegateError):
    code = "IDEMPOTENT_ANSWER_GONE"
    status = 410
    openai_type = "invalid_request_error"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact UTF-8 JSON, serialised by pydantic-core (Rust: no Python per value)."""
    return Response(
        to_json(body), status_code=status, media_type="application/json", headers=headers
    )


class Generations:
    """Everything a generation request can ask of time, over one gate and media store."""

    def __init__(
        self,
        gate: Gate,
        media: MediaStore,
        *,
        api_key: str | None,
        timeout: float,
        jobs: Jobs,
        describe: Callable[[ImagegateError, bool], dict[str, Any]],
        fallbacks: Any = None,
        history: bool = True,
    ) -> None:
        self.gate, self.media, self.api_key, self.timeout = gate, media, api_key, timeout
        self.fallbacks, self.history = fallbacks, history
        self.jobs = jobs
        self.describe = describe
        self.idempotency = Idempotency(lambda: gate.state)
        self.joins = RetryJoins()

    async def answer(
        self,
        request: Request,
        *,
        body: GenerationBody,
        raw: bytes,
        tokens: str | None,
        params: dict[str, Any],
        warnings: list[str],
        asks: Asks,
        base: str,
    ) -> Response:
        """`params` are `Gate.agenerate`'s keywords, `prompt` included."""
        owner = owner_of(self.api_key, tokens)
        timeout = asks.deadline(self.timeout)
        key = asks.idempotency_key
        if body.stream:
            return await self._stream(request, body, tokens, params, warnings, asks)
        if asks.respond_async:
            model = self._precheck(params, tokens)

            async def submit() -> tuple[Response, Outcome]:
                job = await self.jobs.create(
                    owner=owner,
                    tokens=tokens,
                    params=params,
                    warnings=warnings,
                    base=base,
                    model=model,
                )
                return await self._accepted(job, base), {"kind": "job", "id": job["id"]}

            if key is None:
                return (await submit())[0]
            return await self._idempotent(request, owner, key, raw, submit, tokens, base)

        async def generate(keep: bool) -> tuple[Response, Outcome | None]:
            args = dict(params)
            result = await self.gate.agenerate(
                args.pop("prompt"),
                token=tokens,
                timeout=timeout,
                fallbacks=self.fallbacks,
                history=self.history,
                keep_images=True,
                **args,
            )
            request.state.model = result.model
            if not keep:
                return json_response(await render(result, warnings, base)), None
            record = await render(result, warnings, base, record=self.media)
            body = await from_record(record, self.media, base, check=False)
            return json_response(body), {
                "kind": "body",
                "record": record,
            }

        if key is not None:

            async def first() -> tuple[Response, Outcome | None]:
                return await unless_disconnected(request, generate(True))

            return await self._idempotent(request, owner, key, raw, first, tokens, base)
        if asks.retry_count is not None:  # an OpenAI SDK: its retries join the first try
            join = (owner, hashlib.sha256(raw).digest())
            if asks.retry_count > 0:
                joined = await self.joins.join(request, join)
                if joined is not None:
                    return joined

            async def shared() -> Response:
                return (await generate(False))[0]

            return await self.joins.run(request, join, shared)
        return (await unless_disconnected(request, generate(False)))[0]

    async def _stream(
        self,
        request: Request,
        body: GenerationBody,
        tokens: str | None,
        params: dict[str, Any],
        warnings: list[str],
        asks: Asks,
    ) -> Response:
        if asks.respond_async:
            raise InvalidRequest(
                "stream: true and Prefer: respond-async cannot be combined; to follow a job, "
                "stream GET /v1/images/jobs/<id>/events",
                param="stream",
            )
        if asks.idempotency_key is not None:
            raise InvalidRequest(
                "Idempotency-Key cannot be used with stream: true (a stream cannot be "
                "replayed); use it with Prefer: respond-async and stream the job's events",
                param="Idempotency-Key",
            )
        n = params.get("n") or 1
        if n > MAX_STREAM_N:
            raise InvalidRequest(
                f"n: a stream carries at most {MAX_STREAM_N} images (got {n}); ask for fewer, "
                "or use Prefer: respond-async for more",
                param="n",
            )
        self._precheck(params, tokens)
        ping = PING if asks.read_timeout is None else max(1.0, min(PING, asks.read_timeout / 2))
        return await stream_answer(
            request,
            self.gate,
            params={
                **params,
                "fallbacks": self.fallbacks,
                "history": self.history,
                "keep_images": True,
            },
            tokens=tokens,
            timeout=self.timeout,
            warnings=warnings,
            partial_images=body.partial_images or 0,
            ping=ping,
            describe=lambda exc: self.describe(exc, tokens is not None),
        )

    async def _idempotent(
        self,
        request: Request,
        owner: str,
        key: str,
        raw: bytes,
        work: Callable[[], Awaitable[tuple[Response, Outcome | None]]],
        tokens: str | None,
        base: str,
    ) -> Response:
        prefer = b"async" if "respond-async" in (request.headers.get("prefer") or "") else b"sync"
        return await self.idempotency.run(
            request,
            owner=owner,
            key=key,
            fingerprint=prefer + b"|" + raw,
            timeout=self.timeout,
            work=work,
            replay=lambda outcome: self._replay(outcome, owner, tokens, base),
        )

    async def _replay(
        self, outcome: Outcome, owner: str, tokens: str | None, base: str
    ) -> Response:
        if outcome["kind"] == "job":
            return await self._accepted(await self.jobs.get(outcome["id"], owner, tokens), base)
        try:
            return json_response(await from_record(outcome["record"], self.media, base))
        except ImagesGone:
            raise AnswerGone(
                "the images of the first answer to this Idempotency-Key are no longer held "
                "by this server; send the request with a new key"
            ) from None

    async def _accepted(self, job: dict[str, Any], base: str) -> Response:
        return json_response(
            await self.jobs.view(job, base),
            202,
            {"Location": f"/v1/images/jobs/{job['id']}", "Preference-Applied": "respond-async"},
        )

    def _precheck(self, params: dict[str, Any], tokens: str | None) -> str:
        """What a job or a stream would find wrong at once, said before it starts; the
        model's full id (or the family's, for a failover chain)."""
        from imagegate.chain import plan_chain
        from imagegate.pipeline import prepare
        from imagegate.request import build_request

        args = dict(params)
        request = build_request(args.pop("prompt"), **args)
        plan = plan_chain(self.gate, request.model, self.fallbacks)
        if plan is not None:  # a chain: each model is fitted and checked when its turn comes
            return plan.primary.model.full_id if plan.primary else plan.label
        model = self.gate.catalog.resolve(request.model).model
        prepare(self.gate, request, model)
        provider = model.provider
        if provider.auth == "required" and not self.gate.tokens_for(provider, tokens).tokens:
            raise AuthRequired(f"{provider.display_name} needs a token", provider=provider.id)
        return model.full_id

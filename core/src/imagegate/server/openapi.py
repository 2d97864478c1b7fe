"""/openapi.json as the server really answers: bodies with their constraints, every status a
route returns with OpenAI's error envelope, and no 422 (the server never sends one).

FastAPI builds the document from the routes and their `responses=`; this module supplies
those declarations and corrects what FastAPI cannot know: the generation route's body (its
handler reads raw bytes, so FastAPI sees no body), the aliases that body accepts, and the
422 FastAPI adds to every route with parameters.
"""

from __future__ import annotations

from typing import Any

from .schemas import ErrorResponse, GenerationBody

__all__ = ["ERROR_STATUSES", "error_responses", "install_openapi"]

ERROR_STATUSES: dict[int, str] = {
    400: "A bad field (named in `param`), malformed JSON, or a token prefix for another provider",
    401: "Missing or wrong API key, or the provider refused or needs a token",
    403: "The provider forbids it",
    404: "Unknown model, its provider plugin not installed here, or nothing at this path",
    408: "The body did not arrive within 30 s",
    409: "An `Idempotency-Key` reused with another body, or a job that has already ended",
    410: "The images of an `Idempotency-Key`'s first answer are no longer held",
    413: "The body is over the server's cap (64 KB by default)",
    415: "The body is not sent as `application/json`",
    431: "The request line and headers are over 32 KB",
    429: "Rate limited, or every token's quota is spent; `Retry-After` says when to retry",
    500: "The provider accepted the job and failed it",
    502: "The provider answered with an error or could not be reached",
    503: "The state store (Redis) or image store cannot be reached (no jobs, no "
    "`Idempotency-Key` records); retry shortly",
    504: "The request's deadline passed",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until a retry may work",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for these statuses, each with the error envelope."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": ERROR_STATUSES[status]}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        responses[status] = entry
    return responses


GENERATION_BODY: dict[str, Any] = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GenerationRequest"}}},
}


def install_openapi(app: Any) -> None:
    """Make `app.openapi()` (served at /openapi.json) return the corrected document."""
    from fastapi.openapi.utils import get_openapi

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _corrected(document)
        return app.openapi_schema

    app.openapi = build


def _corrected(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    body = GenerationBody.model_json_schema(ref_template="#/components/schemas/{model}")
    properties = body["properties"]
    # The body also takes these aliases (pydantic publishes only the first name of each).
    properties["num_inference_steps"] = {**properties["steps"], "description": "Alias of steps."}
    properties["cfg_scale"] = {
        **properties["guidance_scale"],
        "description": "Alias of guidance_scale.",
    }
    schemas["GenerationRequest"] = body
    generation = document["paths"]["/v1/images/generations"]["post"]
    generation["requestBody"] = GENERATION_BODY
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Open server: your provider token(s), `gitee:<token>` (optional "
            "for HuggingFace). Protected server: its API key.",
        }
    }
    for path, operations in document["paths"].items():
        if path.startswith("/v1/") and not path.startswith("/v1/images/files/"):
            for operation in operations.values():
                operation["security"] = [{}, {"bearer": []}]
    return document

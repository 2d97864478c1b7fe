"""Who may call, and which provider tokens a request brings.

Open server (no api key): `Authorization: Bearer <token>` carries the caller's own provider
tokens (`gitee:abc`, several comma-separated); the server's stored tokens are never used, so
it relays nobody's keys. Protected server (`--api-key`): `Authorization: Bearer <api key>`
admits the caller, whose requests use the server's tokens (environment, keys file) unless
they bring their own in `X-Imagegate-Token`.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from imagegate.errors import AuthInvalid, AuthRequired

__all__ = ["TOKEN_HEADER", "caller_tokens"]

TOKEN_HEADER = "x-imagegate-token"


def caller_tokens(request: Request, api_key: str | None) -> str | None:
    """The provider tokens this request brings (None: none); AuthError if it may not call.

    Notes on `request.state.sent_tokens` whether the caller brought tokens, so an error
    about a token can say whose it was.
    """
    headers = request.headers
    bearer = _bearer(headers.get("authorization"))
    if api_key is not None:
        if bearer is None:
            raise AuthRequired(
                "this server needs its API key: send `Authorization: Bearer <api key>`"
            )
        if not hmac.compare_digest(bearer.encode(), api_key.encode()):
            raise AuthInvalid("the API key is not valid for this server")
        tokens = _tokens(headers.get(TOKEN_HEADER))
    else:
        tokens = _tokens(headers.get(TOKEN_HEADER) or bearer)
    request.state.sent_tokens = tokens is not None
    return tokens


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthInvalid("the Authorization header must be `Bearer <token>`")
    return value.strip() or None


def _tokens(value: str | None) -> str | None:
    """The tokens with empty entries (`hf:`, a stray comma) dropped: they mean "none"."""
    if not value:
        return None
    kept = [t.strip() for t in value.split(",") if t.strip() and not t.strip().endswith(":")]
    return ",".join(kept) or None

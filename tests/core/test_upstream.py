"""`imagegate.upstream`: one table from a provider's HTTP answer to an imagegate error."""

from __future__ import annotations

import httpx
import pytest

from imagegate import Provider, errors
from imagegate.upstream import error_for_response, provider_message

PROVIDER = Provider(
    id="acme",
    display_name="Acme",
    model_prefix="acme",
    auth_prefix="ac",
    key_url="https://acme.example/keys",
    quota_reset="00:00+08:00",
)


def answer(status: int, body: object = None, text: str | None = None, **headers: str):
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"error": {"message": "bad size", "type": "invalid_request_error"}}, "bad size"),
        ({"error": "bad size"}, "bad size"),
        ({"message": "bad size"}, "bad size"),
        ({"errors": {"message": "bad size"}, "request_id": "r"}, "bad size"),
        ({"error_message": "bad size"}, "bad size"),
        ({"detail": "bad size"}, "bad size"),
        ({"detail": [{"loc": ["body"], "msg": "bad size"}]}, "bad size"),
        ({"code": 30001, "message": "bad size", "data": None}, "bad size"),
    ],
)
def test_the_providers_message_is_found_in_every_known_shape(body, said):
    assert provider_message(answer(400, body)) == said


def test_plain_text_and_html_bodies_are_quoted_without_tags():
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    assert provider_message(answer(502, text=page)) == "502 Bad Gateway"
    assert provider_message(answer(500, text="")) is None


@pytest.mark.parametrize(
    ("status", "body", "error", "transient"),
    [
        (
            400,
            {"error": {"message": "size must be WxH", "param": "size"}},
            errors.InvalidRequest,
            False,
        ),
        (422, {"detail": "prompt is required"}, errors.InvalidRequest, False),
        (401, {"message": "Invalid API key"}, errors.AuthInvalid, False),
        (401, {"message": "token expired"}, errors.AuthExpired, False),
        (402, {"message": "Payment required"}, errors.QuotaExceeded, False),
        (403, {"message": "This model needs the Pro plan"}, errors.PermissionDenied, False),
        (
            403,
            {"message": "Sorry, your account balance is insufficient"},
            errors.QuotaExceeded,
            False,
        ),
        (403, {"message": "权限不足"}, errors.PermissionDenied, False),
        (429, {"message": "请求次数过多，请稍后再试"}, errors.RateLimited, True),
        (429, {"message": "服务器资源不足，请稍后重试"}, errors.RateLimited, True),
        (404, {"message": "model not found"}, errors.InvalidModel, False),
        (408, {"message": "Request timed out"}, errors.Timeout, True),
        (425, {"message": "Too early"}, errors.ProviderError, True),
        (429, {"message": "Too many requests"}, errors.RateLimited, True),
        (429, {"message": "daily free tier limit exceeded"}, errors.QuotaExceeded, False),
        (500, {"message": "boom"}, errors.ProviderError, True),
        (503, {"message": "overloaded"}, errors.ProviderError, True),
        (409, {"message": "conflict"}, errors.ProviderError, False),
    ],
)
def test_each_status_maps_once(status, body, error, transient):
    exc = error_for_response(answer(status, body), provider=PROVIDER)
    assert type(exc) is error
    assert exc.transient is transient and exc.provider == "acme"
    assert exc.message.startswith("Acme")
    assert body_text(body) in exc.message


def body_text(body: dict) -> str:
    return provider_message(body) or ""


@pytest.mark.parametrize(
    "message",
    [
        "今日免费额度已用完，请明天再试",
        "账户余额不足，请充值后使用",
        "您的资源包次数已用完",
        "账户已欠费",
        "配额不足",
    ],
)
@pytest.mark.parametrize("status", [400, 403, 429])
def test_chinese_quota_and_balance_messages_are_a_spent_quota(status, message):
    exc = error_for_response(answer(status, {"message": message}), provider=PROVIDER)
    assert isinstance(exc, errors.QuotaExceeded) and message in exc.message


def test_retry_after_is_carried_in_seconds_and_said():
    exc = error_for_response(
        answer(429, {"message": "slow down"}, **{"Retry-After": "754"}), provider=PROVIDER
    )
    assert exc.retry_after == 754 and "retry in 12 min 34 s" in exc.message
    later = error_for_response(answer(503, {}, **{"Retry-After": "5"}), provider=PROVIDER)
    assert later.retry_after == 5 and later.transient


def test_a_spent_quota_names_the_providers_reset_and_its_scope():
    exc = error_for_response(answer(402, {}), provider=PROVIDER, scope="model")
    assert exc.scope == "model" and "00:00 UTC+08:00" in exc.message


def test_owner_advice_is_the_hint_never_the_message_and_tokens_are_scrubbed():
    secret = "sk-secret-token-1234"
    exc = error_for_response(
        answer(401, {"message": f"bad key {secret}"}), provider=PROVIDER, secrets=[secret]
    )
    assert secret not in exc.message and "***" in exc.message
    assert "IMAGEGATE_ACME_TOKEN" not in exc.message
    assert "IMAGEGATE_ACME_TOKEN" in exc.hint and "imagegate keys set acme" in exc.hint


def test_options_refine_the_table():
    exc = error_for_response(
        answer(404, {"message": "no such task"}),
        provider="acme",
        name="Acme's task API",
        not_found=errors.ProviderError,
        message="task T1 is gone",
    )
    assert type(exc) is errors.ProviderError and exc.message.startswith("Acme's task API")
    assert "task T1 is gone" in exc.message

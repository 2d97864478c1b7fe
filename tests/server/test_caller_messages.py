"""A server's caller hears what it can act on: never advice meant for the server's owner.

Through the real plugins and their emulators: every way a token can fail, on every provider,
on an open and on a protected server. The library and the CLI keep that advice (`hint`).
"""

from __future__ import annotations

import httpx
import pytest

import imagegate
import imagegate_a4f
import imagegate_gitee
import imagegate_huggingface
import imagegate_modelscope
from imagegate.server import create_app
from tests.emulators.control import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    QUOTA_TOKEN,
    RATE_LIMIT_TOKEN,
    VALID_TOKEN,
)

pytestmark = pytest.mark.anyio

OWNER_ADVICE = ("IMAGEGATE_", "HF_TOKEN", "imagegate keys", "imagegate models", "--token")
OWNER_ADVICE += ("pip install", "keys file", "keys set")

MODELS = {"a4f": "a4f/provider-4/imagen-3.5", "gitee": "gitee/z-image-turbo"}
MODELS["modelscope"] = "ms/flux-2"
PREFIX = {"a4f": "a4f", "gitee": "gitee", "modelscope": "ms"}


def fit_for_a_caller(message: str) -> None:
    assert message
    for advice in OWNER_ADVICE:
        assert advice not in message, message


@pytest.fixture
def emulators(a4f_emulator, gitee_emulator, modelscope_emulator, spaces_emulator):
    return {
        "a4f": a4f_emulator,
        "gitee": gitee_emulator,
        "modelscope": modelscope_emulator,
        "huggingface": spaces_emulator,
    }


@pytest.fixture
async def server(emulators):
    """`server(api_key=None, plugins=all four)` -> an httpx client of that app."""
    clients: list[httpx.AsyncClient] = []
    gates: list[imagegate.Gate] = []

    def make(api_key: str | None = None, plugins=None) -> httpx.AsyncClient:
        gate = imagegate.Gate(
            plugins=plugins
            or [imagegate_a4f, imagegate_gitee, imagegate_huggingface, imagegate_modelscope],
            base_urls={name: e.base_url for name, e in emulators.items()},
            use_stored_tokens=api_key is not None,
            retries=0,
        )
        gates.append(gate)
        app = create_app(gate, api_key=api_key)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://imagegate.test"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for gate in gates:
        await gate.aclose()


async def generate(client, model: str, headers: dict[str, str] | None = None, **body):
    response = await client.post(
        "/v1/images/generations",
        json={"model": model, "prompt": "a cute cat", "size": "1024x1024", **body},
        headers=headers or {},
    )
    return response.status_code, response.json().get("error", {})


@pytest.mark.parametrize("provider", ["a4f", "gitee", "modelscope"])
async def test_a_missing_token_says_how_to_send_one_over_http(server, provider):
    status, error = await generate(server(), MODELS[provider])
    assert status == 401
    fit_for_a_caller(error["message"])
    assert f"Authorization: Bearer {PREFIX[provider]}:<token>" in error["message"]


@pytest.mark.parametrize("provider", ["a4f", "gitee", "modelscope"])
@pytest.mark.parametrize(
    ("token", "status"),
    [(INVALID_TOKEN, 401), (EXPIRED_TOKEN, 401), (QUOTA_TOKEN, 429), (RATE_LIMIT_TOKEN, 429)],
)
async def test_a_refused_or_spent_token_is_told_without_owner_advice(
    server, provider, token, status
):
    headers = {"Authorization": f"Bearer {PREFIX[provider]}:{token}"}
    got, error = await generate(server(), MODELS[provider], headers)
    assert got == status, error
    fit_for_a_caller(error["message"])
    assert token not in error["message"]


@pytest.mark.parametrize("provider", ["a4f", "gitee", "modelscope"])
async def test_a_protected_server_whose_own_token_fails_says_whose_it_was(
    server, provider, monkeypatch
):
    monkeypatch.setenv(f"IMAGEGATE_{provider.upper()}_TOKEN", INVALID_TOKEN)
    client = server(api_key="server-key-0001")
    status, error = await generate(
        client, MODELS[provider], {"Authorization": "Bearer server-key-0001"}
    )
    assert status == 401
    fit_for_a_caller(error["message"])
    assert "this server holds" in error["message"]
    assert f"X-Imagegate-Token: {PREFIX[provider]}:<token>" in error["message"]


async def test_a_protected_server_without_a_token_asks_for_the_callers_own(server):
    client = server(api_key="server-key-0001")
    status, error = await generate(
        client, MODELS["gitee"], {"Authorization": "Bearer server-key-0001"}
    )
    assert status == 401
    fit_for_a_caller(error["message"])
    assert "X-Imagegate-Token: gitee:<token>" in error["message"]


async def test_spent_tokens_after_rotation_are_told_without_owner_advice(server):
    headers = {"Authorization": f"Bearer gitee:{QUOTA_TOKEN},{QUOTA_TOKEN[:-1]}2"}
    status, error = await generate(server(), MODELS["gitee"], headers)
    assert status == 429
    fit_for_a_caller(error["message"])


async def test_an_unknown_model_points_at_the_model_list(server):
    status, error = await generate(server(), "gitee/no-such-model")
    assert status == 404
    fit_for_a_caller(error["message"])
    assert "GET /v1/models" in error["message"]


async def test_a_provider_not_installed_here_is_this_servers_business(server):
    status, error = await generate(server(plugins=[imagegate_gitee]), "ms/flux-2")
    assert status == 404 and error["code"] == "PROVIDER_NOT_INSTALLED"
    fit_for_a_caller(error["message"])
    assert "not installed on this server" in error["message"]


async def test_an_unreachable_provider_names_it_without_owner_advice(emulators):
    gate = imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": "http://127.0.0.1:9/v1"},
        use_stored_tokens=False,
        retries=0,
    )
    transport = httpx.ASGITransport(app=create_app(gate))
    async with httpx.AsyncClient(transport=transport, base_url="http://imagegate.test") as c:
        status, error = await generate(
            c, MODELS["gitee"], {"Authorization": f"Bearer gitee:{VALID_TOKEN}"}
        )
    assert status == 502
    fit_for_a_caller(error["message"])
    assert "Gitee AI" in error["message"]


# -- HuggingFace: a caller who sent a token is not told to get one --------------------------


async def test_zerogpu_quota_with_a_token_does_not_say_get_a_token(server, emulators):
    emulators["huggingface"].script("zerogpu_quota")
    headers = {"Authorization": f"Bearer hf:{VALID_TOKEN}"}
    status, error = await generate(server(), "hf/z-image-turbo", headers)
    assert status == 429
    fit_for_a_caller(error["message"])
    assert "GPU quota" in error["message"]
    assert "token raises" not in error["message"] and "settings/tokens" not in error["message"]


async def test_zerogpu_quota_without_a_token_says_a_token_helps(server, emulators):
    emulators["huggingface"].script("zerogpu_quota")
    status, error = await generate(server(), "hf/z-image-turbo")
    assert status == 429
    fit_for_a_caller(error["message"])
    assert "huggingface.co/settings/tokens" in error["message"]


async def test_a_rate_limit_with_a_token_does_not_say_use_a_token(server, emulators):
    headers = {"Authorization": f"Bearer hf:{RATE_LIMIT_TOKEN}"}
    status, error = await generate(server(), "hf/flux-1-schnell", headers, size="512x512")
    assert status == 429
    fit_for_a_caller(error["message"])
    assert "use a HuggingFace token" not in error["message"]


def test_the_library_keeps_the_owners_advice(gitee_emulator):
    """The same failure through the library still says what the owner can do."""
    with imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": gitee_emulator.base_url},
        use_stored_tokens=False,
    ) as gate:
        with pytest.raises(imagegate.errors.AuthRequired) as caught:
            gate.generate("a cat", model=MODELS["gitee"])
    assert "IMAGEGATE_GITEE_TOKEN" in str(caught.value)

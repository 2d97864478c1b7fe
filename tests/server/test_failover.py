"""`any/<family>` and fallbacks over HTTP: the model list, the answer, the server setting."""

from __future__ import annotations

import httpx
import openai
import pytest

import imagegate
import imagegate_a4f
import imagegate_gitee
import imagegate_huggingface
import imagegate_modelscope
from imagegate.server import create_app
from tests.emulators.control import QUOTA_TOKEN, VALID_TOKEN
from tests.server.test_serve_process import serve  # noqa: F401 - the fixture

PLUGINS = [imagegate_huggingface, imagegate_gitee, imagegate_modelscope, imagegate_a4f]


@pytest.fixture
def server(live_server, spaces_emulator, gitee_emulator) -> str:
    """An open server over the real plugins, HuggingFace and Gitee AI on their emulators."""
    gate = imagegate.Gate(
        plugins=PLUGINS,
        use_stored_tokens=False,
        base_urls={"huggingface": spaces_emulator.base_url, "gitee": gitee_emulator.base_url},
    )
    return live_server(gate)


def sdk(base_url: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=60)


def test_the_model_list_has_each_family_with_its_members(server):
    listed = {m.id: m for m in sdk(server, "hf:").models.list()}
    family = listed["any/z-image-turbo"].model_dump()
    assert [m["id"] for m in family["members"]] == [
        "hf/z-image-turbo",
        "gitee/z-image-turbo",
        "ms/Tongyi-MAI/Z-Image-Turbo",
        "a4f/provider-8/z-image",
    ]
    assert family["owned_by"] == "imagegate" and family["auth"] == "optional"
    shared = family["capabilities"]
    assert shared["negative_prompt"] is False  # HuggingFace and A4F take none
    assert (shared["min_side"], shared["max_side"]) == (512, 2048)
    assert {"any/flux-1-schnell", "any/qwen-image-2512", "any/flux-1-dev"} <= set(listed)
    one = httpx.get(f"{server}/v1/models/any/flux-1-schnell").json()
    assert [m["provider"] for m in one["members"]] == ["huggingface", "gitee", "a4f"]


def test_an_unknown_family_is_a_404_naming_the_families(server):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(server, "hf:").images.generate(model="any/sdxl", prompt="a cat")
    message = caught.value.body["message"]
    assert "unknown model family 'any/sdxl'" in message and "any/z-image-turbo" in message
    assert httpx.get(f"{server}/v1/models/any/sdxl").status_code == 404


def test_a_family_answer_says_who_served_and_why_the_others_did_not(server, spaces_emulator):
    spaces_emulator.script("zerogpu_quota", times=3)
    answer = sdk(server, f"gitee:{VALID_TOKEN}").images.generate(
        model="any/z-image-turbo", prompt="a cat", size="512x512"
    )
    body = answer.model_dump()
    assert (body["provider"], body["model"]) == ("gitee", "gitee/z-image-turbo")
    assert any(w.startswith("hf/z-image-turbo failed: ") for w in body["warnings"])
    outcomes = {step["model"]: step["outcome"] for step in body["chain"]}
    assert outcomes["hf/z-image-turbo"] == "failed"
    assert outcomes["ms/Tongyi-MAI/Z-Image-Turbo"] == "skipped"
    assert httpx.get(answer.data[0].url).content.startswith(b"\x89PNG")


def test_every_member_failing_is_one_429_without_the_owners_hint(server, spaces_emulator):
    spaces_emulator.script("zerogpu_quota", times=3)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(server, "hf:").images.generate(model="any/z-image-turbo", prompt="a cat")
    message = caught.value.body["message"]
    assert message.startswith("no model of any/z-image-turbo can serve this now")
    assert "gitee/z-image-turbo: no token configured" in message
    assert "IMAGEGATE_GITEE_TOKEN" not in message  # advice for the server's owner only
    assert int(caught.value.response.headers["retry-after"]) > 60


@pytest.mark.anyio
async def test_create_app_takes_fallbacks(gate, fake):
    from imagegate.errors import ProviderError

    fake.failures = [ProviderError("the fake is down")]
    app = create_app(gate, fallbacks="fake/basic=other/basic")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/v1/images/generations", json={"model": "fake/basic", "prompt": "a cat"}
        )
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "other/basic"


def test_imagegate_serve_fallback_setting(serve, gitee_emulator, modelscope_emulator):  # noqa: F811
    url = serve(
        "--fallback",
        "gitee/FLUX.1-dev=ms/flux-1",
        IMAGEGATE_GITEE_BASE_URL=gitee_emulator.base_url,
        IMAGEGATE_MODELSCOPE_BASE_URL=modelscope_emulator.base_url,
    )
    client = sdk(url, f"gitee:{QUOTA_TOKEN},ms:{VALID_TOKEN}")
    answer = client.images.generate(model="gitee/flux-1-dev", prompt="a cat", size="512x512")
    body = answer.model_dump()
    assert body["model"] == "ms/MusePublic/489_ckpt_FLUX_1"
    assert [step["outcome"] for step in body["chain"]] == ["failed", "served"]

"""Key health against the ModelScope emulator (issue 13): a spent per-model limit rests the
token for that model only, a spent per-account limit rests it for every ModelScope model
but for no other provider, and nothing is sent while it rests."""

from __future__ import annotations

import pytest

import imagegate
import imagegate_gitee
import imagegate_modelscope
from imagegate import errors
from imagegate_modelscope.schedule import DURATIONS
from tests.emulators.control import VALID_TOKEN

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _fast_tasks(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 0.05
    DURATIONS.clear()
    yield
    DURATIONS.clear()


def gate(modelscope, gitee=None) -> imagegate.Gate:
    """ModelScope and Gitee AI with the SAME token string, sharing one state store."""
    base_urls = {"modelscope": modelscope.base_url}
    if gitee is not None:
        base_urls["gitee"] = gitee.base_url
    return imagegate.Gate(
        plugins=[imagegate_modelscope, imagegate_gitee],
        base_urls=base_urls,
        tokens={"modelscope": VALID_TOKEN, "gitee": VALID_TOKEN},
        retries=0,
    )


def submitted_models(emulator) -> list[str]:
    return [r.json["model"] for r in emulator.requests if r.path.endswith("/images/generations")]


async def test_a_per_model_limit_leaves_the_tokens_other_models_usable(modelscope_emulator):
    modelscope_emulator.script("quota", scope="model")  # FLUX.2's 200 a day are used up
    async with gate(modelscope_emulator) as g:
        with pytest.raises(errors.QuotaExceeded):
            await g.agenerate("a cat", model="ms/flux-2")
        result = await g.agenerate("a cat", model="ms/flux-1")  # another model's limit
        with pytest.raises(errors.QuotaExceeded, match="usable again in"):
            await g.agenerate("a cat", model="ms/flux-2")  # known spent: not sent
    assert result.provider == "modelscope"
    assert submitted_models(modelscope_emulator) == [
        "black-forest-labs/FLUX.2-dev",
        "MusePublic/489_ckpt_FLUX_1",
    ]


async def test_a_per_account_limit_rests_every_modelscope_model_and_no_other_provider(
    modelscope_emulator, gitee_emulator
):
    modelscope_emulator.script("quota", scope="token")  # the account's 2000 a day are used up
    async with gate(modelscope_emulator, gitee_emulator) as g:
        with pytest.raises(errors.QuotaExceeded):
            await g.agenerate("a cat", model="ms/flux-2")
        with pytest.raises(errors.QuotaExceeded, match="usable again in"):
            await g.agenerate("a cat", model="ms/flux-1")  # the whole token rests: not sent
        other = await g.agenerate("a cat", model="gitee/z-image-turbo")  # same token string
        [row] = [r for r in await g.akey_status("modelscope") if r.state == "cooling"]
    assert submitted_models(modelscope_emulator) == ["black-forest-labs/FLUX.2-dev"]
    assert other.provider == "gitee" and len(other.images) == 1
    assert row.model is None  # all models of the token

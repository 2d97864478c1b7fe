"""Gitee AI as it really answers (issue 12): Chinese quota and balance messages, 403s,
gateway timeouts and models the task API refuses, through the library, CLI and server."""

from __future__ import annotations

import pytest

import imagegate
import imagegate_gitee
from imagegate import errors
from imagegate_gitee.generation import forget_slow_models, route_of
from tests.emulators.control import VALID_TOKEN
from tests.emulators.gitee import QUOTA_VARIANTS

pytestmark = pytest.mark.anyio


def new_gate(emulator, tokens: str | None = VALID_TOKEN, **options) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": emulator.base_url},
        tokens={"gitee": tokens} if tokens else None,
        use_stored_tokens=False,
        **options,
    )


def paths(emulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests]


@pytest.fixture(autouse=True)
def _fresh_routes():
    forget_slow_models()
    yield
    forget_slow_models()


# -- quota and balance, in Chinese too --------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(QUOTA_VARIANTS))
async def test_a_spent_or_unpaid_token_is_quota_exceeded_in_chinese(gitee_emulator, variant):
    gitee_emulator.script("quota", variant=variant)
    async with new_gate(gitee_emulator, retries=2) as gate:
        with pytest.raises(errors.QuotaExceeded) as raised:
            await gate.agenerate("a cat", model="gitee/z-image-turbo")
    assert QUOTA_VARIANTS[variant][1] in raised.value.message
    assert "Gitee AI" in raised.value.message and "00:00 UTC+08:00" in raised.value.message
    assert len(gitee_emulator.requests) == 1  # not retried as a rate limit


async def test_a_spent_token_rotates_to_the_next(gitee_emulator):
    gitee_emulator.script("quota", variant="zh_daily")
    async with new_gate(gitee_emulator, tokens=f"{VALID_TOKEN},valid-token-0002") as gate:
        result = await gate.agenerate("a cat", model="gitee/z-image-turbo", size="256x256")
    assert result.images
    used = [r.headers["authorization"] for r in gitee_emulator.requests]
    assert used == [f"Bearer {VALID_TOKEN}", "Bearer valid-token-0002"]


async def test_the_server_says_insufficient_quota(gitee_emulator, served):
    gitee_emulator.script("quota", variant="zh_balance")
    async with served(new_gate(gitee_emulator)) as client:
        answer = await client.post(
            "/v1/images/generations", json={"model": "gitee/z-image-turbo", "prompt": "a cat"}
        )
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "insufficient_quota"
    assert "余额不足" in answer.json()["error"]["message"]


def test_the_cli_exits_with_the_quota_code(gitee_emulator, cli):
    gitee_emulator.script("quota", variant="zh_count")
    env = {"IMAGEGATE_GITEE_BASE_URL": gitee_emulator.base_url, "IMAGEGATE_GITEE_TOKEN": "t" * 12}
    done = cli("gitee", "generate", "a cat", "-m", "gitee/z-image-turbo", env=env)
    assert done.code == 4 and "次数已用完" in done.stderr


# -- a 403 is a permission answer, never a 502 -------------------------------------------------


async def test_a_403_is_permission_denied(gitee_emulator, served):
    gitee_emulator.script("status", status=403, message="无权限访问该模型")
    async with new_gate(gitee_emulator, retries=0) as gate:
        with pytest.raises(errors.PermissionDenied, match="无权限访问该模型"):
            await gate.agenerate("a cat", model="gitee/z-image-turbo")
    gitee_emulator.script("status", status=403, message="无权限访问该模型")
    # another token: the first now rests for this model (a refusal is the token's, for it)
    async with served(new_gate(gitee_emulator, tokens="valid-token-0003", retries=0)) as client:
        answer = await client.post(
            "/v1/images/generations", json={"model": "gitee/z-image-turbo", "prompt": "a cat"}
        )
    assert answer.status_code == 403


# -- auto mode: a model is "slow" only once the task API worked for it --------------------------


async def test_a_model_the_task_api_refuses_stays_synchronous(gitee_emulator):
    gitee_emulator.control.task_seconds = 0.05
    key = (gitee_emulator.base_url, "Qwen-Image")
    async with new_gate(gitee_emulator, retries=0) as gate:
        gitee_emulator.script("status", status=504, message="Gateway Time-out", shape="text")
        with pytest.raises(errors.Timeout):
            await gate.agenerate("a cat", model="gitee/qwen-image")
        assert route_of(key) == "task-next"  # not "task": no task has worked yet

        gitee_emulator.requests.clear()
        result = await gate.agenerate("a cat", model="gitee/qwen-image")
        assert paths(gitee_emulator) == [
            "POST /v1/async/images/generations",  # refused: nothing ran, nothing billed
            "POST /v1/images/generations",
        ]
        assert result.images[0].metadata["mode"] == "sync"
        assert any("task API refused gitee/Qwen-Image" in w for w in result.warnings)
        assert route_of(key) == "sync-only"

        gitee_emulator.requests.clear()
        await gate.agenerate("a cat", model="gitee/qwen-image")
    assert paths(gitee_emulator) == ["POST /v1/images/generations"]


async def test_a_model_is_slow_only_after_a_task_succeeded(gitee_emulator):
    gitee_emulator.control.task_seconds = 0.05
    key = (gitee_emulator.base_url, "FLUX.1-dev")
    async with new_gate(gitee_emulator, retries=0) as gate:
        gitee_emulator.script("status", status=504, message="Gateway Time-out", shape="text")
        with pytest.raises(errors.Timeout):
            await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
        gitee_emulator.script("task_failed", message="engine error")
        with pytest.raises(errors.GenerationFailed):
            await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
        assert route_of(key) is None  # the task API did not work: back to synchronous

        gitee_emulator.script("status", status=504, message="Gateway Time-out", shape="text")
        with pytest.raises(errors.Timeout):
            await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
        await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
        assert route_of(key) == "task"
        gitee_emulator.requests.clear()
        await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
    assert paths(gitee_emulator)[0] == "POST /v1/async/images/generations"


def test_the_cli_says_what_was_done_after_a_gateway_timeout(gitee_emulator, cli):
    gitee_emulator.script("status", status=504, message="Gateway Time-out", shape="text")
    env = {"IMAGEGATE_GITEE_BASE_URL": gitee_emulator.base_url, "IMAGEGATE_GITEE_TOKEN": "t" * 12}
    done = cli("gitee", "generate", "a cat", "-m", "gitee/FLUX.1-dev", env=env)
    assert done.code == 6
    assert "did not submit it again" in done.stderr and "task API" in done.stderr
    assert [r.path for r in gitee_emulator.requests] == ["/v1/images/generations"]


@pytest.mark.parametrize(
    ("model", "step", "nearest"),
    [
        ("gitee/z-image-turbo", 16, "992x992 or 1008x1008"),
        ("gitee/GLM-Image", 32, "992x992 or 1024x1024"),
    ],
)
async def test_sizes_off_the_models_step_are_refused_before_any_call(
    gitee_emulator, model, step, nearest
):
    async with new_gate(gitee_emulator) as gate:
        with pytest.raises(errors.InvalidRequest, match=f"multiples of {step}") as raised:
            await gate.agenerate("a cat", model=model, size="1000x1000")
    assert nearest in raised.value.message and gitee_emulator.requests == []


async def test_a_spent_token_rests_until_midnight_in_shanghai(gitee_emulator):
    from datetime import datetime, timedelta, timezone

    gitee_emulator.script("quota", variant="zh_daily")
    async with new_gate(gitee_emulator, tokens=f"{VALID_TOKEN},valid-token-0002") as gate:
        await gate.agenerate("a cat", model="gitee/z-image-turbo", size="256x256")
        [spent] = [r for r in await gate.akey_status("gitee") if r.state == "cooling"]
    back = datetime.fromtimestamp(spent.until, timezone(timedelta(hours=8)))
    assert (back.hour, back.minute) == (0, 0)

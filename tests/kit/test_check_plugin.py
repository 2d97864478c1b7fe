"""`check_plugin`: a conforming plugin passes; deliberately broken ones fail with every
problem at once, each message saying what to change."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest

import imagegate
from imagegate import errors, kit
from imagegate.testing import Answer, PluginCheckFailed, check_plugin, plugin_problems

PROVIDER = imagegate.Provider(
    id="bytes",
    display_name="Bytes",
    model_prefix="bytes",
    auth_prefix="bytes",
    auth="optional",
    base_url="https://bytes.example",
)


class Good:
    """A conforming plugin: one GET answering with the image, through imagegate.kit."""

    provider = PROVIDER

    @imagegate.hookimpl
    def list_models(self):
        caps = imagegate.Capabilities(steps=imagegate.IntRange(min=1, max=8, default=4))
        return [
            imagegate.Model(id=name, display_name=name, provider=self.provider, capabilities=caps)
            for name in ("one", "two")
        ]

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        query = kit.fields(request, model, "model", "width", "height", "seed", "steps")
        response = await kit.get(context, "/image", params=query, token=token)
        return kit.image_bytes(response, model, token=token)


def test_a_conforming_plugin_passes_and_says_what_was_checked():
    report = check_plugin(Good())
    assert report.ok and report.problems == []
    for step in ("hooks", "declarations of 2 model(s)", "generate for 2 model(s)", "401", "429"):
        assert step in report.checked
    assert "a Gate generation" in report.checked and "cancellation" in report.checked


def test_the_first_party_style_json_answer_is_one_option_away():
    class Json(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            body = kit.fields(request, model, "model", "prompt", "size", "n")
            response = await kit.post(context, "/images/generations", json=body, token=token)
            return kit.json_images(response, model, token=token)

    assert plugin_problems(Json()) != []  # a PNG is not the JSON it expects
    assert check_plugin(Json(), ok=Answer.openai_images()).ok


def test_a_failure_lists_every_problem_in_one_assertion():
    class Raw(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            response = await context.client.get(
                f"{context.base_url}/image",
                headers={"Authorization": f"Bearer {token}"},
                timeout=context.remaining(),
            )
            if response.status_code == 401:
                raise errors.AuthInvalid(f"refused: {response.text}")
            response.raise_for_status()
            return [imagegate.GeneratedImage(data=response.content)]

    with pytest.raises(PluginCheckFailed) as caught:
        check_plugin(Raw())
    report = caught.value.report
    text = str(caught.value)
    assert len(report.problems) == 4, text
    assert "on a 403 answer, generate raised HTTPStatusError" in text
    assert "raise imagegate.errors.PermissionDenied" in text
    assert "on a 429 answer, generate raised HTTPStatusError" in text
    assert "on a 500 answer" in text and "ProviderError(transient=True)" in text
    assert "error_for_response" in text
    assert "the error for a 401 answer contains the token; pass secrets=[token]" in text
    assert "igcheck" not in text  # the report itself never quotes the token


def test_hooks_that_pluggy_would_ignore_are_named():
    class Sloppy:
        def list_models(self):  # not marked
            return []

        @imagegate.hookimpl
        async def generat(self, request, model, token, context):  # misspelt
            return []

    problems = plugin_problems(Sloppy())
    assert "list_models is not marked as a hook: put `@imagegate.hookimpl` above" in problems[0]
    assert (
        "generat is marked @imagegate.hookimpl but is no imagegate hook (did you mean generate?)"
        in problems[1]
    )
    assert len(problems) == 2  # no "no generate hook" on top of the misspelling
    assert plugin_problems(Good) == ["Good is a class: pass an instance, `check_plugin(Good())`"]


def test_an_async_list_models_and_a_wrong_signature_are_refused():
    class AsyncList(Good):
        @imagegate.hookimpl
        async def list_models(self):
            return []

    assert any(
        "list_models is `async def`: make it a plain `def`" in p
        for p in plugin_problems(AsyncList())
    )

    class ExtraArgument(Good):
        @imagegate.hookimpl
        def list_models(self, config):
            return []

    (problem,) = plugin_problems(ExtraArgument())
    assert problem.startswith("pluggy refuses the plugin:") and "config" in problem


def test_the_optional_hooks_are_known_and_checked():
    """close, list_chat_models and chat are hooks too: named right they pass; an async
    chat list, or one chat hook without the other, is named."""
    chat_model = imagegate.ChatModel(id="talk", display_name="Talk", provider=PROVIDER)

    class Chatty(Good):
        @imagegate.hookimpl
        def list_chat_models(self):
            return [chat_model]

        @imagegate.hookimpl
        async def chat(self, request, model, token, context):
            return {"choices": []}

        @imagegate.hookimpl
        def close(self):
            pass

    assert plugin_problems(Chatty()) == []

    class AsyncChatList(Chatty):
        @imagegate.hookimpl
        async def list_chat_models(self):
            return [chat_model]

    (problem,) = plugin_problems(AsyncChatList())
    assert "list_chat_models is `async def`: make it a plain `def`" in problem

    class ChatOnly(Good):
        @imagegate.hookimpl
        async def chat(self, request, model, token, context):
            return {"choices": []}

    (problem,) = plugin_problems(ChatOnly())
    assert problem.startswith("chat without list_chat_models: a plugin that serves chat")


def test_declarations_are_checked_all_at_once():
    hf = PROVIDER.model_copy(update={"id": "bytes", "model_prefix": "hf", "auth": "required"})

    class Declared(Good):
        provider = hf

        @imagegate.hookimpl
        def list_models(self):
            steps = imagegate.IntRange(min=1, max=8, default=20)
            sized = imagegate.Capabilities(size_step=64, default_size="1000x1000")
            return [
                imagegate.Model(
                    id="one",
                    display_name="One",
                    provider=hf,
                    capabilities=imagegate.Capabilities(steps=steps),
                ),
                imagegate.Model(id="ONE", display_name="", provider=hf, family="Flux 1"),
                imagegate.Model(
                    id="two",
                    display_name="Two",
                    provider=hf,
                    capabilities=sized.model_copy(update={"aspect_ratios": ("5:4",)}),
                ),
                "three",
            ]

    text = "\n".join(plugin_problems(Declared(), skip=SKIP_ALL))
    assert "list_models item 3 is a str, not an imagegate.Model" in text
    assert "hf/one: steps default 20 is outside 1..8; make min <= default <= max" in text
    assert "hf/ONE: hf/ONE also names hf/one (ids and aliases are compared ignoring case)" in text
    assert "hf/ONE: display_name is empty" in text
    assert "hf/ONE: family 'Flux 1' is not a lower-case name" in text
    assert "hf/two: default_size 1000x1000 is not a multiple of size_step 64" in text
    assert "hf/two: aspect ratio '5:4' is not one of" in text
    assert "model_prefix 'hf' belongs to imagegate-huggingface: choose your own" in text
    assert "auth is required but key_url is unset: say where users get a key" in text


SKIP_ALL = ("ok", "401", "403", "429", "500", "malformed", "truncated", "slow")


def test_images_of_the_wrong_shape_are_named():
    class Shapes(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            if model.id == "one":
                return {"data": []}
            return [imagegate.GeneratedImage(data=b"not an image"), imagegate.GeneratedImage()]

    text = "\n".join(plugin_problems(Shapes(), skip=SKIP_ALL[1:]))
    assert (
        "generate for bytes/one: returned a dict; return a list of imagegate.GeneratedImage" in text
    )
    assert "generate for bytes/two: returned 2 image(s) for n=1; return exactly n" in text
    assert "image 0 is not a complete image: not a PNG, WebP, JPEG or GIF image" in text
    assert "image 1 has neither data nor url; set one" in text


def test_a_malformed_answer_must_not_escape_as_a_bare_exception():
    class Trusting(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            response = await kit.get(context, "/image", token=token)
            if response.headers["content-type"] != "image/png":
                return [imagegate.GeneratedImage(url=response.json()["data"][0]["url"])]
            return kit.image_bytes(response, model, token=token)

    text = "\n".join(plugin_problems(Trusting()))
    assert "on a 200 answer with an HTML page for a body, generate raised JSONDecodeError" in text
    assert "on a 200 answer with a JSON body cut off, generate raised JSONDecodeError" in text
    assert "raise imagegate.errors.ProviderError instead" in text


def test_a_plugin_that_ignores_cancellation_is_caught():
    class Stubborn(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            try:
                response = await kit.get(context, "/image", token=token)
            except asyncio.CancelledError:
                await asyncio.sleep(30)  # "finish the job anyway"
                raise
            return kit.image_bytes(response, model, token=token)

    (problem,) = plugin_problems(Stubborn())
    assert problem.startswith("generate was still running 1 s after it was cancelled")


def test_a_plugin_that_swallows_cancellation_is_caught():
    class Swallowing(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            try:
                response = await kit.get(context, "/image", token=token)
            except BaseException as exc:
                raise errors.ProviderError("the call failed") from exc
            return kit.image_bytes(response, model, token=token)

    (problem,) = plugin_problems(Swallowing())
    assert problem.startswith(
        "generate raised ProviderError when cancelled; let asyncio.CancelledError"
    )


def test_a_plugin_that_blocks_the_event_loop_is_caught():
    class Blocking(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            with urllib.request.urlopen(f"{context.base_url}/image", timeout=60) as answer:
                data = answer.read()
            return [imagegate.GeneratedImage(data=data)]

    problems = plugin_problems(Blocking(), skip=("401", "403", "429", "500"))
    assert problems == [
        "generate blocked the event loop while waiting for a slow answer; await the shared "
        "context.client (or run blocking work with asyncio.to_thread)"
    ]


def test_validate_must_leave_other_providers_models_alone():
    class Nosy(Good):
        @imagegate.hookimpl
        def validate(self, request, model):
            if model.capabilities.steps.max < 8:  # other providers' models may have no steps
                return [imagegate.Problem("steps", "too few")]
            return []

    (problem,) = plugin_problems(Nosy(), skip=SKIP_ALL)
    assert problem.startswith("validate raised AttributeError")
    assert "for another provider's model (check-other/any-model)" in problem
    assert (
        "validate is called for every provider's models: return [] for models that are not yours"
        in problem
    )


def test_validate_must_accept_the_models_own_defaults():
    class Strict(Good):
        @imagegate.hookimpl
        def validate(self, request, model):
            if model.provider.id == "bytes" and request.steps < 8:
                return [imagegate.Problem("steps", "at least 8 steps")]
            return None

    problem, other = plugin_problems(Strict(), skip=SKIP_ALL)
    assert other.startswith("validate rejects its own default request for bytes/two")
    assert problem == (
        "validate rejects its own default request for bytes/one (at least 8 steps); "
        "defaults must pass"
    )


def test_an_error_naming_another_provider_is_reported():
    class Confused(Good):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            response = await kit.get(context, "/image", token=token)
            if response.status_code == 401:
                raise errors.AuthInvalid("refused", provider="gitee")
            return kit.image_bytes(response, model, token=token)

    problems = plugin_problems(
        Confused(), skip=("403", "429", "500", "malformed", "truncated", "slow")
    )
    assert problems == [
        "on a 401 answer, the error names provider 'gitee', not 'bytes'; leave provider unset "
        "(the core fills it in) or use your Provider's id"
    ]

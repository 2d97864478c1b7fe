"""`imagegate.kit`: a resolved request under a service's names, answers turned into images
or into the core's errors, through a plugin and the public API."""

from __future__ import annotations

import pytest

import imagegate
from imagegate import errors, kit
from imagegate.resolve import resolve_request
from imagegate.testing import Answer

PROVIDER = imagegate.Provider(
    id="wire", display_name="Wire", model_prefix="wire", auth_prefix="wire", auth="optional"
)
MODEL = imagegate.Model(
    id="Wire-1",
    display_name="Wire 1",
    provider=PROVIDER,
    capabilities=imagegate.Capabilities(steps=imagegate.IntRange(min=1, max=50, default=9)),
)


def resolved(**params):
    request = imagegate.ImageRequest(prompt="a cat", model="wire/Wire-1", **params)
    return resolve_request(request, MODEL)[0]


def test_fields_reads_the_resolved_request_under_the_services_names():
    request = resolved(size="512x256", seed=5, negative_prompt="blur")
    names = ("model", "prompt", "size", "seed", "steps", "negative_prompt", "guidance_scale")
    body = kit.fields(
        request, MODEL, *names, rename={"steps": "num_inference_steps"}, nologo="true"
    )
    assert body == {
        "model": "Wire-1",
        "prompt": "a cat",
        "size": "512x256",
        "seed": 5,
        "num_inference_steps": 9,
        "nologo": "true",
    }  # no negative prompt (the model takes none) and no guidance (it has none)
    with pytest.raises(ValueError, match=r"kit\.fields knows no 'cfg'; known: model, prompt"):
        kit.fields(request, MODEL, "cfg")


class Plugin:
    def __init__(self, answer: str = "bytes", path: str = "/img") -> None:
        self.answer, self.path = answer, path

    @imagegate.hookimpl
    def list_models(self):
        return [MODEL]

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        if self.answer == "bytes":
            response = await kit.get(context, self.path, token=token)
            return kit.image_bytes(response, model, token=token)
        response = await kit.post(context, self.path, json={"n": request.n}, token=token)
        return kit.json_images(response, model, token=token)


def test_bytes_and_json_answers_become_images_with_the_token_sent(fake_upstream, gate_for):
    fake_upstream.always(Answer.image(32, 32))
    gate = gate_for(Plugin(), fake_upstream, token="wire-token-1")
    assert gate.generate("a cat", model="wire/wire-1").images[0].mime_type == "image/png"
    assert fake_upstream.requests[-1].token == "wire-token-1"
    fake_upstream.always(Answer.openai_images(response_format="b64_json"))
    json_gate = gate_for(Plugin("json"), fake_upstream)
    assert json_gate.generate("a cat", model="wire/wire-1").images[0].data.startswith(b"\x89PNG")
    assert fake_upstream.requests[-1].json == {"n": 1}


def test_an_absolute_url_is_used_as_it_is(fake_upstream, gate_for):
    gate = gate_for(Plugin(path=f"{fake_upstream.url}/elsewhere"), "http://127.0.0.1:9")
    gate.generate("a cat", model="wire/wire-1")
    assert fake_upstream.requests[0].path == "/elsewhere"


@pytest.mark.parametrize(
    ("answer", "error", "said"),
    [
        (Answer.truncated_image(), errors.ProviderError, "image/png"),
        (Answer.malformed(), errors.ProviderError, "Service temporarily unavailable"),
        (Answer.error(401, "Invalid key {token}"), errors.AuthInvalid, "Invalid key ***"),
        (Answer.error(429, "You exceeded your current quota"), errors.QuotaExceeded, "quota"),
    ],
    ids=["truncated", "html", "401", "quota"],
)
def test_bad_answers_are_the_cores_errors_without_the_token(
    fake_upstream, gate_for, answer, error, said
):
    fake_upstream.always(answer)
    with pytest.raises(error) as caught:
        gate_for(Plugin(), fake_upstream, token="wire-token-1").generate("a", model="wire/wire-1")
    assert said in caught.value.message and "wire-token-1" not in str(caught.value)
    assert caught.value.provider == "wire"


def test_a_json_answer_without_images_quotes_the_provider(fake_upstream, gate_for):
    fake_upstream.always(Answer.json({"error": {"message": "content filtered"}}))
    with pytest.raises(errors.ProviderError, match=r"without an image.*content filtered"):
        gate_for(Plugin("json"), fake_upstream).generate("a cat", model="wire/wire-1")
    fake_upstream.always(Answer.json({"data": [{"b64_json": "not base64!"}]}))
    with pytest.raises(errors.ProviderError, match="b64_json that is not base64"):
        gate_for(Plugin("json"), fake_upstream).generate("a cat", model="wire/wire-1")

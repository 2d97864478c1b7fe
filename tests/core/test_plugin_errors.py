"""What the core fills in when a plugin's error leaves it out: the provider it came from."""

from __future__ import annotations

import pytest

import imagegate
from imagegate import errors
from tests.fakes import FakePlugin


@pytest.mark.parametrize(
    "failure",
    [
        errors.AuthInvalid("the key was refused"),
        errors.QuotaExceeded("out of quota"),
        errors.ProviderError("the upstream broke"),
        errors.GenerationFailed("the job failed"),
    ],
    ids=lambda e: e.code,
)
def test_an_error_a_plugin_raises_without_a_provider_names_the_plugins_provider(failure):
    plugin = FakePlugin()
    plugin.failures = [failure] * 3
    with imagegate.Gate(plugins=[plugin], state="memory", retries=0) as gate:
        with pytest.raises(errors.ImagegateError) as caught:
            gate.generate("a cat", model="fake/basic", token="fk-token-0001")
    assert caught.value.provider == "fake"
    assert caught.value.code == failure.code


def test_an_error_that_names_its_provider_keeps_it():
    plugin = FakePlugin()
    plugin.failures = [errors.GenerationFailed("filtered", provider="fake")]
    with imagegate.Gate(plugins=[plugin], state="memory") as gate:
        with pytest.raises(errors.GenerationFailed) as caught:
            gate.generate("a cat", model="fake/basic")
    assert caught.value.provider == "fake"


def test_an_unexpected_exception_from_a_plugin_becomes_a_provider_error_naming_it():
    class Broken(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            return {"data": []}["images"]

    with imagegate.Gate(plugins=[Broken()], state="memory") as gate:
        with pytest.raises(errors.ProviderError) as caught:
            gate.generate("a cat", model="fake/basic")
    assert caught.value.provider == "fake"
    assert "Fake failed: KeyError" in caught.value.message

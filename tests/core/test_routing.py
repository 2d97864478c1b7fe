"""Model ids, aliases, the default model, and what an unknown or missing model says."""

from __future__ import annotations

import pytest

import imagegate
from imagegate.errors import InvalidModel, NotInstalled
from tests.fakes import FakePlugin

HF = imagegate.Provider(
    id="huggingface",
    display_name="HuggingFace",
    model_prefix="hf",
    auth_prefix="hf",
    auth="optional",
)
MS = imagegate.Provider(
    id="modelscope",
    display_name="ModelScope",
    model_prefix="ms",
    auth_prefix="ms",
)


class Catalogue:
    @imagegate.hookimpl
    def list_models(self):
        return [
            imagegate.Model(id="z-image-turbo", display_name="Z", provider=HF),
            imagegate.Model(id="flux-1-schnell", display_name="F", provider=HF),
            imagegate.Model(
                id="black-forest-labs/FLUX.2-dev",
                display_name="F2",
                provider=MS,
                aliases=("flux-2",),
            ),
        ]


@pytest.fixture
def gate():
    with imagegate.Gate(plugins=[Catalogue()]) as gate:
        yield gate


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("ms/flux-2", "ms/black-forest-labs/FLUX.2-dev"),
        ("modelscope/flux-2", "ms/black-forest-labs/FLUX.2-dev"),
        ("MS/Black-Forest-Labs/flux.2-DEV", "ms/black-forest-labs/FLUX.2-dev"),
        ("flux-1-schnell", "hf/flux-1-schnell"),
        ("hf/FLUX-1-SCHNELL", "hf/flux-1-schnell"),
        ("huggingface/flux-1-schnell", "hf/flux-1-schnell"),
        (None, "hf/z-image-turbo"),
        ("", "hf/z-image-turbo"),
    ],
)
def test_ids_aliases_and_case_resolve_to_the_canonical_id(gate, typed, canonical):
    assert gate.get_model(typed).full_id == canonical


def test_unknown_model_lists_the_closest_ids(gate):
    with pytest.raises(InvalidModel) as caught:
        gate.get_model("ms/flux-3")
    assert "ms/flux-2" in caught.value.message
    assert caught.value.param == "model" and caught.value.status == 404


def test_bare_unknown_id_suggests_across_providers(gate):
    with pytest.raises(InvalidModel, match=r"Did you mean: .*flux-1-schnell"):
        gate.get_model("flux-1-schnel")


def test_prefix_of_a_missing_first_party_plugin_says_what_to_install(gate):
    with pytest.raises(NotInstalled, match="pip install imagegate-gitee"):
        gate.get_model("gitee/z-image-turbo")


def test_no_plugins_installed_lists_models_empty_and_says_how_to_install():
    with imagegate.Gate(plugins=[]) as gate:
        assert gate.list_models() == []
        with pytest.raises(NotInstalled) as caught:
            gate.generate("a cute cat")
    message = caught.value.message
    assert "no provider plugin is installed" in message
    for name in (
        "imagegate-a4f",
        "imagegate-gitee",
        "imagegate-huggingface",
        "imagegate-modelscope",
    ):
        assert name in message


def test_list_models_filters_by_provider_id_or_prefix():
    with imagegate.Gate(plugins=[Catalogue(), FakePlugin()]) as gate:
        assert [m.full_id for m in gate.list_models("ms")] == ["ms/black-forest-labs/FLUX.2-dev"]
        assert len(gate.list_models("huggingface")) == 2
        assert len(gate.list_models()) == 5

"""The first-party plugins pass `imagegate.testing.check_plugin`, each against its
provider's emulator playing the check's scenarios in the provider's own wording (the
channels plugin with the OpenAI preset against the OpenAI emulator)."""

from __future__ import annotations

from typing import Any

import pytest

import imagegate_a4f
import imagegate_gitee
import imagegate_huggingface
import imagegate_modelscope
from imagegate.testing import check_plugin
from tests.emulators.harness import Emulator

FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "401": ("status", {"status": 401, "message": "Invalid API key provided."}),
    "403": ("status", {"status": 403, "message": "This key may not use this model."}),
    "429": ("rate_limit", {"retry_after": 7}),
    "500": ("status", {"status": 500, "message": "Internal server error"}),
    "malformed": ("malformed_json", {}),
    "truncated": ("missing_data", {}),
    "slow": ("delay", {"seconds": 5}),
}


class EmulatorStage:
    """`check_plugin`'s upstream, played by an emulator's scripted faults."""

    retry_after = 7

    def __init__(self, emulator: Emulator, faults: dict[str, tuple[str, dict[str, Any]]]) -> None:
        self.emulator, self.faults = emulator, faults
        self.url = emulator.base_url

    def play(self, scenario: str) -> bool:
        self.emulator.reset()
        if scenario == "ok":
            return True
        if scenario not in self.faults:
            return False
        kind, params = self.faults[scenario]
        self.emulator.script(kind, times=1000, **params)
        return True

    def requests_seen(self) -> int:
        return len(self.emulator.requests)


@pytest.mark.parametrize(
    ("plugin", "emulator_name"),
    [
        (imagegate_a4f, "a4f_emulator"),
        (imagegate_gitee, "gitee_emulator"),
        (imagegate_modelscope, "modelscope_emulator"),
    ],
    ids=["a4f", "gitee", "modelscope"],
)
def test_http_plugins_conform(plugin, emulator_name, request, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_GITEE_MODE", "sync")
    emulator = request.getfixturevalue(emulator_name)
    report = check_plugin(plugin, upstream=EmulatorStage(emulator, FAULTS))
    assert "cancellation" in report.checked


def test_the_huggingface_plugin_conforms(spaces_emulator):
    faults = {
        "401": ("status", {"status": 401, "message": "Invalid credentials"}),
        "403": ("status", {"status": 403, "message": "This Space is private"}),
        "500": ("status", {"status": 500, "message": "Internal server error"}),
        "slow": ("delay", {"seconds": 5}),
    }
    report = check_plugin(imagegate_huggingface, upstream=EmulatorStage(spaces_emulator, faults))
    assert "cancellation" in report.checked


def test_the_channels_plugin_conforms_with_the_openai_preset(openai_emulator):
    import imagegate_openai
    from imagegate.channels import Channel, save_channel
    from imagegate_openai.presets import PRESETS

    preset = PRESETS["openai"]
    save_channel(
        Channel(
            name="openai",
            display_name=preset.display_name,
            base_url=openai_emulator.base_url,
            key_url=preset.key_url,
            models=preset.models,
            chat_models=preset.chat_models,
        )
    )
    report = check_plugin(imagegate_openai, upstream=EmulatorStage(openai_emulator, FAULTS))
    assert "cancellation" in report.checked

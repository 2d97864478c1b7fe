"""Start an emulator by name: each module `tests/emulators/<name>.py` provides
`create_app(control) -> ASGI app` and `BASE_PATH` (what follows the root in its base URL)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .control import Control
from .server import ServerThread

__all__ = ["DEFAULT_EMULATORS", "EMULATORS", "Emulator", "start_emulator"]

# name -> the provider id whose IMAGEGATE_<ID>_BASE_URL points at it
EMULATORS = {
    "a4f": "a4f",
    "gitee": "gitee",
    "modelscope": "modelscope",
    "spaces": "huggingface",
    "real_spaces": "huggingface",  # two Spaces rebuilt from their app.py (real_spaces.py)
    "openai": "openai",  # OpenAI's API: a channel added with `--preset openai`
}
DEFAULT_EMULATORS = ("a4f", "gitee", "modelscope", "spaces", "openai")
"""What `python -m tests.emulators` starts with no names: one per provider (and OpenAI's
API, for a channel added with `--preset openai`)."""


@dataclass
class Emulator:
    """A running emulator: where it is, and its control (log, faults, settings)."""

    name: str
    provider: str
    root_url: str
    base_url: str
    control: Control
    server: ServerThread

    @property
    def requests(self) -> list[Any]:
        return self.control.requests

    def script(self, kind: str, times: int = 1, **params: Any) -> None:
        self.control.script(kind, times, **params)

    def reset(self) -> None:
        self.control.reset()

    @property
    def env(self) -> dict[str, str]:
        """The environment variable that points the provider's plugin here."""
        return {f"IMAGEGATE_{self.provider.upper()}_BASE_URL": self.base_url}

    def stop(self) -> None:
        self.server.stop()


def start_emulator(name: str, port: int = 0) -> Emulator:
    module = importlib.import_module(f"tests.emulators.{name}")
    control = Control()
    server = ServerThread(module.create_app(control), port=port).start()
    return Emulator(
        name=name,
        provider=EMULATORS[name],
        root_url=server.url,
        base_url=server.url + module.BASE_PATH,
        control=control,
        server=server,
    )

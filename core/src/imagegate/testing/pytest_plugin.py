"""imagegate's pytest plugin (entry point `pytest11`): the `fake_upstream` and `gate_for`
fixtures. Imports nothing of imagegate until a test asks for a fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from imagegate import Gate
    from imagegate.testing import FakeUpstream


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A scripted upstream on a free loopback port (PNG answers until told otherwise)."""
    from imagegate.testing.fake import FakeUpstream

    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def gate_for() -> Iterator[Callable[..., Gate]]:
    """`gate_for(plugin, upstream=None, token=..., **settings)`: a Gate for one plugin,
    closed after the test (see `imagegate.testing.gate_for`)."""
    from imagegate.testing.gates import gate_for as make

    made: list[Gate] = []

    def factory(plugin: object, upstream: Any = None, **settings: Any) -> Gate:
        gate = make(plugin, upstream, **settings)
        made.append(gate)
        return gate

    yield factory
    for gate in made:
        gate.close()

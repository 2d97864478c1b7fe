"""Where every command gets its `Gate`: one seam for embedding and tests to replace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imagegate import Gate


def make_gate(**kwargs: Any) -> Gate:
    """A `Gate` over the installed plugins (and any named in IMAGEGATE_PLUGINS)."""
    from imagegate import Gate

    return Gate(**kwargs)

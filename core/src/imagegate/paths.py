"""Where imagegate keeps its files: the keys file in the config dir, state and images in the
data dir. `IMAGEGATE_HOME` moves both to one directory (tests, portable installs)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_dir", "data_dir"]


def config_dir() -> Path:
    home = os.environ.get("IMAGEGATE_HOME")
    if home:
        return Path(home)
    from platformdirs import user_config_dir

    return Path(user_config_dir("imagegate", appauthor=False))


def data_dir() -> Path:
    home = os.environ.get("IMAGEGATE_HOME")
    if home:
        return Path(home)
    from platformdirs import user_data_dir

    return Path(user_data_dir("imagegate", appauthor=False))

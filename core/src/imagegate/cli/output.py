"""Where generated images go: names that sort by time and carry the seed, never overwriting.

`20261125-153012-a-cute-cat-42.webp` in the current directory by default; `-o DIR` puts the
same names in DIR; `-o FILE` uses that name (numbered `FILE-1`, `FILE-2` for several images).
An existing file is never replaced: the next free `-1`, `-2`, ... suffix is taken instead.
"""

from __future__ import annotations

import os
import time
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imagegate import GeneratedImage

SLUG_LENGTH = 40
_MAX_ATTEMPTS = 10_000


def slug(prompt: str, limit: int = SLUG_LENGTH) -> str:
    """A lower-case, dash-separated name from the prompt, cut at a word boundary."""
    text = unicodedata.normalize("NFKD", prompt)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    words = "".join(c if c.isalnum() else " " for c in text).split()
    result = ""
    for word in words:
        candidate = f"{result}-{word}" if result else word
        if len(candidate) > limit:
            if not result:  # one very long word: cut it
                result = word[:limit]
            break
        result = candidate
    return result or "image"


def default_name(prompt: str, seed: int | None, created: float, extension: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(created))
    parts = [stamp, slug(prompt)]
    if seed is not None:
        parts.append(str(seed))
    return "-".join(parts) + extension


def is_directory_target(output: str | None) -> bool:
    """`-o` names a directory when it exists as one or ends with a path separator."""
    if output is None:
        return True
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def planned_paths(
    images: list[GeneratedImage], *, prompt: str, output: str | None, created: float
) -> list[Path]:
    """The path each image would like to have (before looking for clashes)."""
    if is_directory_target(output):
        directory = Path(output) if output else Path()
        return [
            directory / default_name(prompt, image.seed, created, image.extension)
            for image in images
        ]
    assert output is not None
    target = Path(output)
    paths = []
    for number, image in enumerate(images, start=1):
        suffix = target.suffix or image.extension
        stem = target.stem if target.suffix else target.name
        if len(images) > 1:
            stem = f"{stem}-{number}"
        paths.append(target.with_name(stem + suffix))
    return paths


def save_new(image: GeneratedImage, path: Path) -> Path:
    """Save under `path`, or under `stem-1`, `stem-2`, ... when that file already exists."""
    for attempt in range(_MAX_ATTEMPTS):
        candidate = path if attempt == 0 else path.with_name(f"{path.stem}-{attempt}{path.suffix}")
        try:
            saved = image.save(candidate)
        except FileExistsError:
            continue
        return saved
    raise FileExistsError(f"no free file name next to {path}")


def mismatch_warning(path: Path, image: GeneratedImage) -> str | None:
    """A warning when the user's file name promises another image type than the bytes."""
    real = image.extension
    if path.suffix.lower() in {real, ".jpeg" if real == ".jpg" else real}:
        return None
    kind = (image.mime_type or "image").split("/")[-1].upper()
    return f"{path} holds a {kind} image (its name says {path.suffix or 'nothing'})"

"""What a generation gives back: `GeneratedImage`s inside an `ImageResult`.

A provider answers with a URL or with bytes. Bytes are fetched from a URL only when someone
needs them (`read`, `save`, `b64_json`), once, through the loader the core attached.
"""

from __future__ import annotations

import base64
import errno
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .media import StoredImage
from .request import ImageRequest

__all__ = ["ChainStep", "GeneratedImage", "ImageResult", "check_image", "sniff_mime"]

_EXTENSIONS = {
    "image/png": ".png",
    "image/webp": ".webp",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
}

Loader = Callable[[str], Awaitable[bytes]]


def check_image(data: bytes) -> str:
    """The mime type of a complete image, or ValueError for a truncated or unknown one."""
    mime = sniff_mime(data)
    if mime is None:
        raise ValueError(f"not a PNG, WebP, JPEG or GIF image ({len(data)} bytes)")
    complete = {
        "image/png": lambda: data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"),
        "image/webp": lambda: int.from_bytes(data[4:8], "little") + 8 <= len(data),
        "image/jpeg": lambda: b"\xff\xd9" in data[-16:],
        "image/gif": lambda: data.endswith(b";"),
    }[mime]
    if not complete():
        raise ValueError(f"the {mime} image is truncated ({len(data)} bytes)")
    return mime


def sniff_mime(data: bytes) -> str | None:
    """The image type from its first bytes, which beat any header or file name."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


class GeneratedImage(BaseModel):
    """One image. Plugins fill `url` or `data`; the core fills provider, model and the rest."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    url: str | None = None
    data: bytes | None = Field(default=None, repr=False)
    mime_type: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    provider: str | None = None
    model: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific facts: task id, revised prompt, Space URL."""
    stored: StoredImage | None = None
    """Where the gate's media store keeps the bytes (`Gate(keep_images=True)`), else None."""

    _loader: Loader | None = PrivateAttr(default=None)
    _sync_loader: Callable[[str], bytes] | None = PrivateAttr(default=None)

    async def aread(self) -> bytes:
        """The image bytes, fetched from `url` the first time they are needed."""
        if self.data is None:
            if not self.url:
                raise ValueError("this image has neither bytes nor a URL")
            if self._loader is None:
                raise RuntimeError("no loader attached; images come from imagegate.Gate")
            self._set_data(await self._loader(self.url))
        assert self.data is not None
        return self.data

    def read(self) -> bytes:
        """The image bytes, blocking. Use `aread` inside an event loop."""
        if self.data is None:
            if not self.url:
                raise ValueError("this image has neither bytes nor a URL")
            if self._sync_loader is None:
                raise RuntimeError("no loader attached; images come from imagegate.Gate")
            self._set_data(self._sync_loader(self.url))
        assert self.data is not None
        return self.data

    def b64_json(self) -> str:
        return base64.b64encode(self.read()).decode("ascii")

    @property
    def extension(self) -> str:
        """The file extension of the real image type, with its dot (`.webp`)."""
        return _EXTENSIONS.get(self.mime_type or "", ".png")

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the image to `path` (its extension added when it has none); returns the path.

        The file appears whole or not at all, and an existing file is kept unless `overwrite`.
        """
        data = self.read()
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(self.extension)
        write_new_file(target, data, overwrite=overwrite)
        return target

    async def asave(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        await self.aread()
        return self.save(path, overwrite=overwrite)

    def _set_data(self, data: bytes) -> None:
        self.data = data
        self.mime_type = sniff_mime(data) or self.mime_type


def write_new_file(target: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write through a temporary file so a reader never sees half an image."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # os.open with 0o666 (not mkstemp's 0o600) so the image gets the user's usual umask
    temp = str(target.parent / f".imagegate-{secrets.token_hex(8)}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if overwrite:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)  # fails with FileExistsError instead of replacing
            except FileExistsError:
                # os.link names both paths, the temporary one first: name only the user's
                raise FileExistsError(
                    errno.EEXIST, "File exists (save(..., overwrite=True) replaces it)", str(target)
                ) from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


class ChainStep(BaseModel):
    """What became of one model of a failover chain (`any/<family>`, or fallbacks)."""

    model_config = ConfigDict(frozen=True)

    model: str
    provider: str
    outcome: Literal["served", "failed", "skipped", "unused"]
    """`served`, `failed` (tried, then the next one), `skipped` (not tried: no usable token,
    or it would have dropped a parameter), or `unused` (a member served before it)."""
    reason: str | None = None
    code: str | None = None
    """The error code of a failure or of a token state (`QUOTA_EXCEEDED`, `AUTH_REQUIRED`)."""
    retry_after: float | None = None
    """Seconds until this model is usable again, when known."""


class ImageResult(BaseModel):
    """The answer to one request: its images, the model that made them, and any warnings."""

    images: list[GeneratedImage]
    model: str
    """Full canonical model id: `gitee/Qwen-Image`."""
    provider: str
    request: ImageRequest
    """The request as sent, after defaults and resolution."""
    warnings: list[str] = Field(default_factory=list)
    created: int
    elapsed: float
    chain: list[ChainStep] = Field(default_factory=list)
    """For `any/<family>` and fallbacks: each model considered, in order, and what became
    of it (the one that served included); empty for a request to one model."""
    history_id: str | None = None
    """The id of this generation's history record, when it was recorded."""
    revised_prompt: str | None = None
    """With `enhance=`: the prompt a chat model rewrote, which the images were made from
    (the caller's own is `prompt`)."""
    prompt: str | None = None
    """With `enhance=`: the caller's prompt, before it was rewritten."""
    enhanced_by: str | None = None
    """With `enhance=`: the chat model that rewrote the prompt (`a4f/provider-3/deepseek-v3`)."""

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> GeneratedImage:
        return self.images[index]

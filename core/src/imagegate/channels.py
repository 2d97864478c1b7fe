"""Channels: OpenAI-compatible endpoints the user declares, each one a provider of its own.

A channel is a name, a base URL and its models, kept in `channels.json` next to the keys
file (`imagegate channels add NAME --base-url URL --model ID`). The `imagegate-openai`
plugin turns each into a provider `NAME` with model ids `NAME/<model>`, whose tokens come
from `IMAGEGATE_<NAME>_TOKEN`, `imagegate keys set NAME` or `Bearer NAME:<token>`.

This module is the file's format and its reading and writing, nothing more: cheap to
import, no network. A file that does not parse never stops a command: it is ignored with
one warning naming the file and the line (a channel that does not validate, with one
naming the channel), and the commands that write it refuse until it is fixed.

    {"channels": {"openai": {"base_url": "https://api.openai.com/v1", "preset": "openai",
                             "token_env": "OPENAI_API_KEY", "models": [{"id": "gpt-image-2",
                             "capabilities": {...}, "response_format": false}]}}}
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidRequest
from .models import AuthMode, Capabilities, Provider

__all__ = [
    "DISCOVERED",
    "NAME_PATTERN",
    "Channel",
    "ChannelChatModel",
    "ChannelModel",
    "ChannelsFileError",
    "channels_path",
    "check_base_url",
    "check_name",
    "load_channels",
    "read_for_update",
    "remove_channel",
    "save_channel",
]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")

DISCOVERED = Capabilities(
    negative_prompt=False,
    steps=None,
    guidance=None,
    seed=False,
    min_side=64,
    max_side=4096,
    max_images_per_call=1,
)
"""What a model found through the endpoint's `GET /models` is assumed to take: any size
of 64-4096 px per side, one image per call (more are made by concurrent calls), and no
extension field (negative prompt, steps, guidance, seed) until the user declares it."""


class ChannelModel(BaseModel):
    """One image model of a channel, as the endpoint names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    display_name: str | None = None
    capabilities: Capabilities = DISCOVERED
    response_format: bool = True
    """Whether the endpoint takes `response_format` (OpenAI's GPT Image models refuse it
    and always answer with base64)."""
    family: str | None = None
    """The open model it serves (`z-image-turbo`), so `any/<family>` may pick it."""
    discovered: bool = False
    """Found through `GET /models`: its capabilities are `DISCOVERED`, not declared."""


class ChannelChatModel(BaseModel):
    """One chat model of a channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    display_name: str | None = None


class Channel(BaseModel):
    """One OpenAI-compatible endpoint and what it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    base_url: str
    display_name: str | None = None
    auth: AuthMode = "required"
    auth_prefix: str | None = None
    """The prefix of a token meant for it (`Bearer <prefix>:<token>`); default the name."""
    token_env: str | None = None
    """An environment variable read after `IMAGEGATE_<NAME>_TOKEN` (`OPENAI_API_KEY`)."""
    preset: str | None = None
    key_url: str | None = None
    docs_url: str | None = None
    models: tuple[ChannelModel, ...] = ()
    chat_models: tuple[ChannelChatModel, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        check_name(name)
        return name

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, url: str) -> str:
        return check_base_url(url)

    def stored(self) -> dict:
        """The channel as the file keeps it (the name is its key there)."""
        return self.model_dump(mode="json", exclude={"name"}, exclude_defaults=True)

    def provider(self) -> Provider:
        """The provider this channel is: id, model prefix and default auth prefix its name."""
        return Provider(
            id=self.name,
            display_name=self.display_name or self.name,
            model_prefix=self.name,
            auth_prefix=self.auth_prefix or self.name,
            auth=self.auth,
            image_format="png",
            base_url=self.base_url,
            key_url=self.key_url,
            docs_url=self.docs_url,
            extra_token_env=(self.token_env,) if self.token_env else (),
            distribution="imagegate-openai",
            model_id_hint=f"the models of channel {self.name} are those `imagegate channels "
            f"show {self.name}` lists",
            quota_reset=None,  # an endpoint's quota is its own: its answers say when
            unsupported="reject",
        )


class ChannelsFileError(InvalidRequest):
    """The channels file exists but cannot be read; writing it would lose what it holds."""


def check_name(name: str) -> str:
    """`name` if it can be a provider id, prefix and environment-variable part."""
    if not NAME_PATTERN.match(name):
        raise InvalidRequest(
            f"channel name {name!r} must be 1-32 lower-case letters, digits or dashes, "
            "starting with a letter (it becomes the model prefix NAME/ and "
            "IMAGEGATE_<NAME>_TOKEN)",
            param="name",
        )
    return name


def check_base_url(url: str) -> str:
    """The URL without a trailing slash if it is http(s) with a host; else an error."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            f"base URL {url!r} must be http:// or https:// with a host, e.g. "
            "https://api.openai.com/v1",
            param="base_url",
        )
    if parts.query or parts.fragment:
        raise InvalidRequest(
            f"base URL {url!r} must not carry a query or fragment", param="base_url"
        )
    return url.rstrip("/")


def channels_path() -> Path:
    from .paths import config_dir

    return config_dir() / "channels.json"


_cache: dict[Path, tuple[tuple[int, int, int], dict[str, Channel]]] = {}
_warned: set[tuple[Path, tuple[int, int, int], str]] = set()


def load_channels() -> dict[str, Channel]:
    """The configured channels by name; re-read only when the file changes. Never raises:
    what cannot be read is left out, with one warning on stderr naming the file and line."""
    path = channels_path()
    try:
        stat = path.stat()
    except OSError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return dict(cached[1])
    found: dict[str, Channel] = {}
    try:
        raw = _parse(path)
    except ChannelsFileError as exc:
        _warn_once(path, stamp, f"{exc.message}; channels are ignored until it is fixed")
        raw = {}
    for name, entry in raw.items():
        try:
            found[name] = _channel(name, entry)
        except (ValidationError, InvalidRequest) as exc:
            _warn_once(path, stamp, f"{path}: channel {name!r} ignored: {_why(exc)}")
    _cache[path] = (stamp, found)
    return dict(found)


def read_for_update() -> dict[str, dict]:
    """The file's channels as stored, for a change; `ChannelsFileError` when it does not
    parse (a write would lose it)."""
    path = channels_path()
    if not path.exists():
        return {}
    return _parse(path)


def save_channel(channel: Channel) -> Path:
    """Add or replace one channel, keeping the others as they are."""
    stored = read_for_update()
    stored[channel.name] = channel.stored()
    return _write(stored)


def remove_channel(name: str) -> bool:
    stored = read_for_update()
    if name not in stored:
        return False
    del stored[name]
    _write(stored)
    return True


def _parse(path: Path) -> dict[str, dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChannelsFileError(
            f"{path} cannot be read ({type(exc).__name__})", param="channels"
        ) from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ChannelsFileError(
            f"{path} line {exc.lineno} does not parse: {exc.msg}", param="channels"
        ) from None
    channels = data.get("channels", {}) if isinstance(data, dict) else None
    if not isinstance(channels, dict) or not all(isinstance(v, dict) for v in channels.values()):
        raise ChannelsFileError(
            f'{path} line 1: expected {{"channels": {{"NAME": {{...}}}}}}', param="channels"
        )
    return channels


def _channel(name: str, entry: dict) -> Channel:
    return Channel.model_validate({**entry, "name": name})


def _write(stored: dict[str, dict]) -> Path:
    path = channels_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"channels": stored}, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(temp, path)
    return path


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    return getattr(exc, "message", str(exc))


def _warn_once(path: Path, stamp: tuple[int, int, int], message: str) -> None:
    key = (path, stamp, message)
    if key in _warned:
        return
    _warned.add(key)
    print(f"imagegate: warning: {message}", file=sys.stderr)

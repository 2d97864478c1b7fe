"""What `check_plugin` looks for in what `generate` gave back, images or an error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..results import GeneratedImage, check_image

if TYPE_CHECKING:
    import httpx

__all__ = ["shape_problems", "short", "texts_of", "unusable"]


async def shape_problems(images: Any, n: int, client: httpx.AsyncClient) -> list[str]:
    """What is wrong with what generate returned for `n` images."""
    if not isinstance(images, list):
        kind = type(images).__name__
        return [f"returned a {kind}; return a list of imagegate.GeneratedImage"]
    problems = []
    if len(images) != n:
        problems.append(f"returned {len(images)} image(s) for n={n}; return exactly n")
    for index, image in enumerate(images):
        if not isinstance(image, GeneratedImage):
            problems.append(
                f"item {index} is a {type(image).__name__}, not an imagegate.GeneratedImage"
            )
            continue
        if image.data is None and not image.url:
            problems.append(f"image {index} has neither data nor url; set one")
            continue
        data = image.data
        if data is None:
            try:
                response = await client.get(image.url)
                data = response.content if response.status_code == 200 else b""
            except Exception as exc:
                problems.append(f"image {index}'s url cannot be fetched: {exc!r}")
                continue
        try:
            check_image(data)
        except ValueError as exc:
            problems.append(f"image {index} is not a complete image: {exc}")
        if image.seed is not None and not isinstance(image.seed, int):
            problems.append(f"image {index} has seed {image.seed!r}; it must be an int")
    return problems


def unusable(images: Any) -> bool:
    """Whether the core would refuse these images anyway (so the plugin may return them)."""
    if not isinstance(images, list) or not images:
        return True
    for image in images:
        if not isinstance(image, GeneratedImage):
            return True
        if image.data is not None:
            try:
                check_image(image.data)
            except ValueError:
                return True
    return False


def short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:157] + "...") if len(text) > 160 else text or type(exc).__name__


def texts_of(exc: BaseException) -> list[str]:
    """Everything of an error a person or a log might read, its causes included."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current)]
        texts += [a for a in current.args if isinstance(a, str)]
        for attribute in ("message", "hint"):
            value = getattr(current, attribute, None)
            if isinstance(value, str):
                texts.append(value)
        current = current.__cause__ or current.__context__
    return texts

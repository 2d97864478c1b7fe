"""File names and the progress line, the parts a user reads."""

from __future__ import annotations

import io
import re

import pytest

from imagegate import Progress
from imagegate.cli.output import default_name, slug
from imagegate.cli.progress import ProgressLine


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("A cute cat!", "a-cute-cat"),
        ("  Café au lait, s'il vous plaît  ", "cafe-au-lait-s-il-vous-plait"),
        ("一只可爱的猫", "一只可爱的猫"),
        ("!!!", "image"),
        ("a " + "very " * 30 + "long prompt", "a" + "-very" * 7),  # cut at a word, <= 40
        ("x" * 100, "x" * 40),
    ],
)
def test_slug(prompt, expected):
    assert slug(prompt) == expected


def test_default_name_sorts_by_time_and_carries_the_seed():
    name = default_name("a cute cat", 42, 1_795_625_042, ".webp")
    assert re.fullmatch(r"\d{8}-\d{6}-a-cute-cat-42\.webp", name)
    assert default_name("a cute cat", None, 1_795_625_042, ".png").endswith("-a-cute-cat.png")
    assert default_name("x", 1, 1_000_000_000, ".png") < default_name("x", 1, 1_795_625_042, ".png")


def test_progress_line_shows_queue_steps_and_status():
    stream = io.StringIO()
    line = ProgressLine("huggingface", "hf/z-image-turbo", stream)
    base = {"provider": "huggingface", "model": "hf/z-image-turbo"}
    line(Progress(**base, stage="queued", queue_position=3, queue_size=7, eta=12.4))
    assert "huggingface hf/z-image-turbo · queued · queue 3/7 · eta 12s" in stream.getvalue()
    line(Progress(**base, stage="progress", step=4, total_steps=9))
    assert "step 4/9" in line.text()
    line(Progress(**base, stage="running", status="RUNNING"))
    assert "RUNNING" in line.text()
    line.clear()
    assert stream.getvalue().endswith("\r\x1b[K") and "\n" not in stream.getvalue()

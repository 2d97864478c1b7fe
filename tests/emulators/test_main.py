"""`python -m tests.emulators` by hand: it prints base URLs that work, and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.emulators.control import VALID_TOKEN

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {VALID_TOKEN}"}


@pytest.fixture(scope="module")
def exported():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    urls: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            urls[name] = value
        if line.startswith("# emulators running"):
            break
    yield urls
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0


def test_it_prints_one_base_url_per_provider(exported):
    assert sorted(exported) == [
        "IMAGEGATE_A4F_BASE_URL",
        "IMAGEGATE_GITEE_BASE_URL",
        "IMAGEGATE_HUGGINGFACE_BASE_URL",
        "IMAGEGATE_MODELSCOPE_BASE_URL",
        "IMAGEGATE_OPENAI_BASE_URL",
    ]
    assert all(url.startswith("http://127.0.0.1:") for url in exported.values())


@pytest.mark.parametrize(
    ("variable", "body"),
    [
        ("IMAGEGATE_A4F_BASE_URL", {"model": "provider-4/imagen-4", "prompt": "a cat"}),
        (
            "IMAGEGATE_GITEE_BASE_URL",
            {"model": "z-image-turbo", "prompt": "a cat", "width": 512, "height": 512},
        ),
    ],
)
def test_a_plain_http_call_gets_an_image_from_the_openai_style_services(exported, variable, body):
    base = exported[variable]
    answer = httpx.post(f"{base}/images/generations", json=body, headers=AUTH, timeout=10)
    assert answer.status_code == 200
    image = httpx.get(answer.json()["data"][0]["url"], timeout=10)
    assert image.content.startswith(b"\x89PNG")


def test_a_plain_http_task_gets_an_image_from_modelscope(exported):
    base = exported["IMAGEGATE_MODELSCOPE_BASE_URL"]
    submitted = httpx.post(
        f"{base}/images/generations",
        json={"model": "Tongyi-MAI/Z-Image-Turbo", "prompt": "a cat", "size": "512x512"},
        headers={**AUTH, "X-ModelScope-Async-Mode": "true"},
        timeout=10,
    )
    task_id = submitted.json()["task_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = httpx.get(
            f"{base}/tasks/{task_id}",
            headers={**AUTH, "X-ModelScope-Task-Type": "image_generation"},
            timeout=10,
        ).json()
        if task["task_status"] == "SUCCEED":
            break
        time.sleep(0.1)
    image = httpx.get(task["output_images"][0], timeout=10)
    assert image.content.startswith(b"\xff\xd8\xff")  # ModelScope images are JPEG


def test_gradio_client_gets_an_image_from_a_space(exported):
    from gradio_client import Client

    root = exported["IMAGEGATE_HUGGINGFACE_BASE_URL"]
    client = Client(f"{root}/luca115-z-image-turbo/", verbose=False, download_files=False)
    try:
        image, seed = client.predict("a cat", 512, 512, 2, 7, False, api_name="/generate_image")
    finally:
        client.close()
    assert seed == 7
    assert httpx.get(image["url"], timeout=10).content[8:12] == b"WEBP"

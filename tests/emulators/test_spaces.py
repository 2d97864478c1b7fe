"""The Spaces emulator against the protocol notes (protocols.md 4 and 5), not the plugin.

Plain httpx drives Gradio's `/call` API and queue routes; gradio_client is used where the
notes describe what it sees (queue status, progress, cancel).
"""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest

from tests.emulators.control import QUOTA_TOKEN, VALID_TOKEN

Z = "luca115-z-image-turbo"
QWEN = "mcp-tools-qwen-image-fast"
OVIS = "aidc-ai-ovis-image-7b"
FLUX = "black-forest-labs-flux-1-schnell"
MIRROR = "mrfakename-z-image-turbo"


def call(emulator, space: str, api: str, data: list, headers: dict | None = None):
    """POST /gradio_api/call/<api>, then read its event stream: (event name, data)."""
    base = f"{emulator.root_url}/{space}/gradio_api/call/{api}"
    with httpx.Client(timeout=30) as client:
        posted = client.post(base, json={"data": data}, headers=headers or {})
        assert posted.status_code == 200, posted.text
        event_id = posted.json()["event_id"]
        stream = client.get(f"{base}/{event_id}")
    event = None
    for line in stream.text.splitlines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event in ("complete", "error"):
            return event, json.loads(line.removeprefix("data: "))
    raise AssertionError(f"no complete/error event in {stream.text!r}")


def image_of(url: str):
    from PIL import Image

    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    return Image.open(io.BytesIO(response.content))


@pytest.mark.parametrize("space", [Z, MIRROR, QWEN, OVIS, FLUX])
def test_config_speaks_the_queue_protocol(spaces_emulator, space):
    config = httpx.get(f"{spaces_emulator.root_url}/{space}/config").json()
    assert config["protocol"] == "sse_v3"
    assert config["api_prefix"] == "/gradio_api"


@pytest.mark.parametrize(
    ("space", "api", "names", "defaults"),
    [
        (
            Z,
            "/generate_image",
            ["prompt", "height", "width", "num_inference_steps", "seed", "randomize_seed"],
            {"height": 1024, "width": 1024, "num_inference_steps": 9, "seed": 42},
        ),
        (
            QWEN,
            "/generate_image",
            [
                "prompt",
                "seed",
                "randomize_seed",
                "aspect_ratio",
                "guidance_scale",
                "num_inference_steps",
            ],
            {"aspect_ratio": "16:9", "guidance_scale": 1, "num_inference_steps": 8},
        ),
        (
            OVIS,
            "/generate",
            ["prompt", "height", "width", "seed", "num_inference_steps", "guidance_scale"],
            {"num_inference_steps": 24, "guidance_scale": 4},
        ),
        (
            FLUX,
            "/infer",
            ["prompt", "seed", "randomize_seed", "width", "height", "num_inference_steps"],
            {"seed": 0, "width": 1024, "height": 1024, "num_inference_steps": 4},
        ),
    ],
)
def test_each_space_has_its_signature(spaces_emulator, space, api, names, defaults):
    info = httpx.get(f"{spaces_emulator.root_url}/{space}/gradio_api/info").json()
    parameters = info["named_endpoints"][api]["parameters"]
    assert [p["parameter_name"] for p in parameters] == names
    given = {p["parameter_name"]: p["parameter_default"] for p in parameters}
    for name, value in defaults.items():
        assert given[name] == value
    if "randomize_seed" in given:
        assert given["randomize_seed"] is True


def test_z_image_has_the_second_api_name(spaces_emulator):
    info = httpx.get(f"{spaces_emulator.root_url}/{Z}/gradio_api/info").json()
    assert {"/generate_image", "/generate_image_1"} <= set(info["named_endpoints"])


def test_z_image_answers_a_webp_of_the_size_and_the_seed(spaces_emulator):
    event, data = call(spaces_emulator, Z, "generate_image", ["a cat", 768, 512, 9, 1234, False])
    assert event == "complete"
    image, seed = data
    assert seed == 1234 and isinstance(seed, int)
    assert image["url"].startswith(f"{spaces_emulator.root_url}/{Z}/gradio_api/file=")
    picture = image_of(image["url"])
    assert picture.format == "WEBP" and picture.size == (512, 768)  # height comes first


def test_same_prompt_and_seed_give_the_same_image(spaces_emulator):
    first = call(spaces_emulator, FLUX, "infer", ["a dog", 7, False, 256, 256, 4])[1]
    second = call(spaces_emulator, FLUX, "infer", ["a dog", 7, False, 256, 256, 4])[1]
    other = call(spaces_emulator, FLUX, "infer", ["a dog", 8, False, 256, 256, 4])[1]
    assert httpx.get(first[0]["url"]).content == httpx.get(second[0]["url"]).content
    assert httpx.get(first[0]["url"]).content != httpx.get(other[0]["url"]).content
    assert first[1] == 7 and other[1] == 8


def test_randomize_seed_draws_a_seed(spaces_emulator):
    seeds = {call(spaces_emulator, FLUX, "infer", ["x", 0, True, 256, 256, 1])[1][1] for _ in "ab"}
    assert seeds != {0}


def test_qwen_reports_the_seed_as_text_and_sizes_by_ratio(spaces_emulator):
    event, data = call(spaces_emulator, QWEN, "generate_image", ["a cat", 99, False, "1:1", 1, 8])
    assert event == "complete"
    image, text = data
    assert text == "Seed used for generation: 99"
    picture = image_of(image["url"])
    assert picture.width == picture.height


def test_qwen_rejects_a_ratio_it_does_not_offer(spaces_emulator):
    event, _ = call(spaces_emulator, QWEN, "generate_image", ["a cat", 1, False, "5:4", 1, 8])
    assert event == "error"


def test_ovis_answers_the_image_only(spaces_emulator):
    event, data = call(spaces_emulator, OVIS, "generate", ["a cat", 512, 256, 3, 24, 4])
    assert event == "complete" and len(data) == 1
    assert image_of(data[0]["url"]).size == (256, 512)


def test_out_of_range_slider_is_an_error_event(spaces_emulator):
    event, data = call(spaces_emulator, Z, "generate_image", ["a cat", 256, 1024, 9, 1, False])
    assert event == "error"
    assert "less than minimum value 512" in data["error"]


def test_calls_are_recorded_with_inputs_and_token(spaces_emulator):
    headers = {"x-hf-authorization": f"Bearer {VALID_TOKEN}"}
    call(spaces_emulator, FLUX, "infer", ["a cat", 5, False, 512, 256, 3], headers)
    (recorded,) = [r for r in spaces_emulator.requests if r.method == "CALL"]
    assert recorded.path == f"/{FLUX}/infer"
    assert recorded.json["inputs"] == {
        "prompt": "a cat",
        "seed": 5,
        "randomize_seed": False,
        "width": 512,
        "height": 256,
        "num_inference_steps": 3,
    }
    assert recorded.headers["x-hf-authorization"] == f"Bearer {VALID_TOKEN}"


def test_gradio_error_is_an_error_event(spaces_emulator):
    spaces_emulator.script("gradio_error", message="Simulated failure")
    event, data = call(spaces_emulator, Z, "generate_image", ["a cat", 512, 512, 1, 1, False])
    assert event == "error" and data["error"] == "Simulated failure"


@pytest.mark.parametrize(
    ("variant", "wording"),
    [
        ("current", "free GPU quota (60s requested vs. 30s left). Try again in 0:12:34"),
        ("older", "Sign-up on Hugging Face to get more quotas or retry in 0:09:48."),
        ("signup", 'href="https://huggingface.co/join">Create a free account</a>'),
    ],
)
def test_zerogpu_quota_in_each_wording(spaces_emulator, variant, wording):
    spaces_emulator.script("zerogpu_quota", variant=variant)
    event, data = call(spaces_emulator, Z, "generate_image", ["a cat", 512, 512, 1, 1, False])
    assert event == "error" and wording in data["error"]


def test_zerogpu_quota_by_token_is_todays_wording(spaces_emulator):
    headers = {"x-hf-authorization": f"Bearer {QUOTA_TOKEN}"}
    event, data = call(spaces_emulator, Z, "generate_image", ["a", 512, 512, 1, 1, False], headers)
    assert event == "error" and data["error"].endswith("Try again in 0:12:34")


def test_zerogpu_busy_is_an_error_event(spaces_emulator):
    spaces_emulator.script("zerogpu_busy")
    event, data = call(spaces_emulator, FLUX, "infer", ["a cat", 1, False, 256, 256, 1])
    assert event == "error" and data["error"].startswith("No GPU was available")


def test_spaces_hide_other_exceptions_as_real_ones_do(spaces_emulator):
    spaces_emulator.script("crash", message="CUDA out of memory")
    event, data = call(spaces_emulator, FLUX, "infer", ["a cat", 1, False, 256, 256, 1])
    assert event == "error" and data["error"] is None  # show_error=False
    spaces_emulator.control.options["show_error"] = True
    spaces_emulator.script("crash", message="CUDA out of memory")
    event, data = call(spaces_emulator, FLUX, "infer", ["a cat", 1, False, 256, 256, 1])
    assert event == "error" and data["error"] == "CUDA out of memory"


def test_z_image_pipeline_refuses_sides_off_its_multiple_of_16(spaces_emulator):
    event, data = call(spaces_emulator, Z, "generate_image", ["a cat", 1000, 512, 1, 1, False])
    assert event == "error" and data["error"] is None  # a ValueError, hidden
    spaces_emulator.control.options["show_error"] = True
    event, data = call(spaces_emulator, Z, "generate_image", ["a cat", 1000, 512, 1, 1, False])
    assert data["error"].startswith("Height must be divisible by 16 (got 1000)")


@pytest.mark.parametrize(("space", "api"), [(FLUX, "infer"), (OVIS, "generate")])
def test_flux_and_ovis_pipelines_make_the_multiple_of_16_below(spaces_emulator, space, api):
    data = ["a cat", 1, False, 1000, 300, 1] if space == FLUX else ["a cat", 300, 1000, 1, 1, 4]
    event, answer = call(spaces_emulator, space, api, data)
    assert event == "complete"
    assert image_of(answer[0]["url"]).size == (992, 288)


def test_a_gallery_variant_answers_a_list_of_images(spaces_emulator):
    base = f"{spaces_emulator.root_url}/_gallery/{FLUX}/gradio_api/call/infer"
    with httpx.Client(timeout=30) as client:
        event_id = client.post(base, json={"data": ["a cat", 3, False, 256, 256, 1]}).json()
        stream = client.get(f"{base}/{event_id['event_id']}").text
    data = json.loads(stream.split("event: complete\ndata: ")[1].splitlines()[0])
    gallery, seed = data
    assert seed == 3 and isinstance(gallery, list)
    assert image_of(gallery[0]["image"]["url"]).size == (256, 256)


def test_queue_full_is_503_on_join(spaces_emulator):
    spaces_emulator.script("queue_full")
    join = httpx.post(
        f"{spaces_emulator.root_url}/{Z}/gradio_api/queue/join",
        json={"data": ["a", 512, 512, 1, 1, False], "fn_index": 0, "session_hash": "abc"},
    )
    assert join.status_code == 503


def test_status_fault_and_tokens_at_the_door(spaces_emulator):
    spaces_emulator.script("status", status=429)
    assert httpx.get(f"{spaces_emulator.root_url}/{Z}/config").status_code == 429
    url = f"{spaces_emulator.root_url}/{Z}/config"
    assert httpx.get(url, headers={"x-hf-authorization": "Bearer invalid-0001"}).status_code == 401
    limited = {"x-hf-authorization": "Bearer ratelimit-0001"}
    assert httpx.get(url, headers=limited).status_code == 429
    assert httpx.get(url).status_code == 200


def test_space_down_is_404_for_that_space_only(spaces_emulator):
    spaces_emulator.script("space_down", times=2, space=Z)
    assert httpx.get(f"{spaces_emulator.root_url}/{MIRROR}/config").status_code == 200
    assert httpx.get(f"{spaces_emulator.root_url}/{Z}/config").status_code == 404
    assert httpx.get(f"{spaces_emulator.root_url}/{Z}/gradio_api/info").status_code == 404
    assert httpx.get(f"{spaces_emulator.root_url}/{Z}/config").status_code == 200


def test_a_sleeping_space_can_redirect_to_its_hub_page(spaces_emulator):
    spaces_emulator.script("space_sleeping", space=Z, redirect=True)
    answer = httpx.get(f"{spaces_emulator.root_url}/{Z}/config")
    assert answer.status_code == 302
    page = httpx.get(f"{spaces_emulator.root_url}{answer.headers['location']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_sleeping_space_answers_html_503(spaces_emulator):
    spaces_emulator.script("space_sleeping", space=QWEN)
    answer = httpx.get(f"{spaces_emulator.root_url}/{QWEN}/config")
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)


def test_gradio_client_sees_token_progress_and_queue(spaces_emulator):
    from gradio_client import Client
    from gradio_client.utils import Status

    spaces_emulator.control.delay = 0.4
    client = Client(
        f"{spaces_emulator.root_url}/{Z}/",
        token=VALID_TOKEN,
        download_files=False,
        verbose=False,
        analytics_enabled=False,
    )
    job = client.submit("a cat", 512, 512, 8, 3, False, api_name="/generate_image")
    seen = []
    while not job.done():
        seen.append(job.status())
        time.sleep(0.01)
    image, seed = job.result()
    client.close()
    assert seed == 3 and image["url"].endswith("image.webp")
    progress = [s.progress_data[0] for s in seen if s.code == Status.PROGRESS]
    assert progress and progress[-1].length == 8 and progress[-1].unit == "steps"
    (recorded,) = [r for r in spaces_emulator.requests if r.method == "CALL"]
    assert recorded.headers["x-hf-authorization"] == f"Bearer {VALID_TOKEN}"
    assert [r.path for r in spaces_emulator.requests if r.method == "GET"] == [f"/{Z}/config"]


def test_gradio_client_cancel_reaches_the_space(spaces_emulator):
    from gradio_client import Client

    spaces_emulator.control.delay = 60.0  # far longer than the cancel takes, even when busy
    client = Client(f"{spaces_emulator.root_url}/{FLUX}/", download_files=False, verbose=False)
    job = client.submit("a cat", 1, False, 256, 256, 10, api_name="/infer")
    deadline = time.monotonic() + 50  # a bound against hanging, not a speed check
    while not any(r.method == "CALL" for r in spaces_emulator.requests):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    job.cancel()
    while not any(r.method == "CANCELLED" for r in spaces_emulator.requests):
        assert time.monotonic() < deadline, [r.method for r in spaces_emulator.requests]
        time.sleep(0.01)
    client.close()
    assert any(r.path == f"/{FLUX}/gradio_api/cancel" for r in spaces_emulator.requests)

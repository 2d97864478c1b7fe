"""`imagegate generate` through click's runner with the in-process fake provider."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from imagegate import errors
from tests.fakes import png_bytes

NAME = re.compile(r"^\d{8}-\d{6}-a-cute-cat-42\.png$")


def test_saves_the_image_under_a_time_sorted_name_with_the_seed(invoke):
    done = invoke("generate", "a cute cat", "-m", "fake/basic", "--seed", "42")
    assert done.code == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert NAME.match(line)
    assert Path(line).read_bytes() == png_bytes(8, 8, 42)
    assert done.stderr == ""


def test_an_existing_file_is_never_overwritten(invoke):
    first = invoke("generate", "a cute cat", "-m", "fake/basic", "--seed", "42").stdout.strip()
    Path(first).write_bytes(b"mine")
    second = invoke("generate", "a cute cat", "-m", "fake/basic", "--seed", "42").stdout.strip()
    assert second != first
    assert Path(first).read_bytes() == b"mine"
    assert Path(second).read_bytes() == png_bytes(8, 8, 42)


def test_several_images_with_the_same_seed_get_distinct_names(invoke, fake_plugins):
    done = invoke("generate", "same seed", "-m", "fake/plain", "-n", "3")
    paths = done.stdout.splitlines()
    assert done.code == 0 and len(set(paths)) == 3
    assert all(Path(p).read_bytes().startswith(b"\x89PNG") for p in paths)
    assert len(fake_plugins.calls) == 1  # fake/plain returns up to 4 per call


def test_output_file_is_numbered_for_several_images(invoke, tmp_path):
    target = tmp_path / "out" / "cat.png"
    done = invoke("generate", "a cat", "-m", "fake/basic", "-n", "2", "-o", str(target))
    assert done.stdout.splitlines() == [
        str(target.with_name("cat-1.png")),
        str(target.with_name("cat-2.png")),
    ]
    assert all(Path(p).is_file() for p in done.stdout.splitlines())


def test_output_file_that_exists_gets_a_new_name(invoke):
    Path("cat.png").write_bytes(b"keep")
    done = invoke("generate", "a cat", "-m", "fake/basic", "-o", "cat.png")
    assert done.stdout.splitlines() == ["cat-1.png"]
    assert Path("cat.png").read_bytes() == b"keep"


def test_output_file_without_extension_gets_the_real_one(invoke):
    done = invoke("generate", "a cat", "-m", "fake/basic", "-o", "picture")
    assert done.stdout.splitlines() == ["picture.png"]


def test_output_name_of_another_type_is_kept_with_a_warning(invoke):
    done = invoke("generate", "a cat", "-m", "fake/basic", "-o", "cat.webp")
    assert done.stdout.splitlines() == ["cat.webp"]
    assert "warning: cat.webp holds a PNG image" in done.stderr


def test_output_directory_is_created_when_it_ends_with_a_slash(invoke):
    done = invoke("generate", "a cute cat", "-m", "fake/basic", "--seed", "42", "-o", "new/dir/")
    [line] = done.stdout.splitlines()
    assert Path(line).parent == Path("new/dir") and NAME.match(Path(line).name)


def test_prompt_from_stdin(invoke, fake_plugins):
    done = invoke("generate", "-", "-m", "fake/basic", input="a fox in the snow\n")
    assert done.code == 0
    assert fake_plugins.calls[0]["request"].prompt == "a fox in the snow"
    assert "a-fox-in-the-snow" in done.stdout


def test_empty_stdin_prompt_is_a_usage_error(invoke):
    done = invoke("generate", "-m", "fake/basic", input="")
    assert done.code == 2 and done.stderr.startswith("error: ")


def test_json_document_describes_every_image(invoke):
    done = invoke(
        "generate", "a cat", "-m", "fake/basic", "-n", "2", "--seed", "7", "--size", "512x512",
        "--steps", "4", "--json",
    )  # fmt: skip
    document = json.loads(done.stdout)
    assert document["model"] == "fake/basic" and document["provider"] == "fake"
    assert document["parameters"]["steps"] == 4
    assert [image["seed"] for image in document["images"]] == [7, 8]
    for image in document["images"]:
        assert Path(image["path"]).read_bytes() == png_bytes(8, 8, image["seed"])
        assert image["mime_type"] == "image/png"
        assert (image["width"], image["height"]) == (512, 512)
    assert isinstance(document["elapsed"], float) and document["warnings"] == []


def test_dropped_parameters_are_warnings_on_stderr_and_in_json(invoke):
    done = invoke("generate", "a cat", "-m", "fake/plain", "--seed", "3", "--steps", "4", "--json")
    document = json.loads(done.stdout)
    assert any("seed ignored" in w for w in document["warnings"])
    assert "warning: seed ignored" in done.stderr
    assert "warning: steps ignored" in done.stderr


def test_options_reach_the_provider(invoke, fake_plugins):
    invoke(
        "generate", "a cat", "-m", "fake/b", "--aspect", "16:9", "--guidance", "3.5",
        "--negative", "blur", "--steps", "12",
    )  # fmt: skip
    request = fake_plugins.calls[0]["request"]
    assert (request.width, request.height, request.aspect_ratio) == (1280, 720, "16:9")
    assert request.guidance_scale == 3.5 and request.negative_prompt == "blur"
    assert request.steps == 12


def test_explicit_token_reaches_the_provider(invoke, fake_plugins):
    invoke("generate", "a cat", "-m", "fake/basic", "--token", "fk:abcdefgh")
    assert fake_plugins.calls[0]["token"] == "abcdefgh"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "512x512", "--aspect", "1:1"], "not both"),
        (["--steps", "999"], "steps"),
        (["--size", "huge"], "size"),
        (["-n", "0"], "n"),
        (["-m", "fake/nope"], "unknown model"),
        (["-m", "gitee/qwen-image"], "pip install imagegate-gitee"),
        (["--steps", "many"], "many"),
    ],
)
def test_usage_and_validation_errors_exit_2_with_one_line(invoke, args, message):
    done = invoke("generate", "a cat", *(args if "-m" in args else ["-m", "fake/basic", *args]))
    assert done.code == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and message in line


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (errors.AuthInvalid("bad token"), 3),
        (errors.AuthRequired("a token is needed"), 3),
        (errors.PermissionDenied("not allowed"), 3),
        (errors.QuotaExceeded("quota spent"), 4),
        (errors.RateLimited("slow down", retry_after=0), 4),
        (errors.ProviderError("upstream broke"), 5),
        (errors.ProviderUnreachable("cannot connect", transient=False), 5),
        (errors.GenerationFailed("filtered"), 5),
        (errors.Timeout("too slow"), 6),
        (RuntimeError("plugin bug"), 5),
    ],
)
def test_failures_map_to_documented_exit_codes(invoke, fake_plugins, failure, code):
    fake_plugins.failures.extend([failure] * 3)  # outlast the core's retries
    done = invoke("generate", "a cat", "-m", "fake/basic")
    assert done.code == code
    assert done.stdout == "" and list(Path().iterdir()) == []
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ")


def test_the_token_is_never_printed_even_when_the_provider_echoes_it(
    invoke, fake_plugins, monkeypatch
):
    token = "sk-live-0123456789abcdef"
    monkeypatch.setenv("IMAGEGATE_DEBUG", "1")  # the traceback too
    fake_plugins.failures.append(RuntimeError(f"401: token {token} is invalid"))
    done = invoke("generate", "a cat", "-m", "fake/basic", "--token", token)
    assert done.code == 5
    assert "Traceback" in done.stderr
    assert token not in done.stderr + done.stdout


def test_traceback_only_with_imagegate_debug(invoke, fake_plugins):
    fake_plugins.failures.append(errors.GenerationFailed("filtered"))
    done = invoke("generate", "a cat", "-m", "fake/basic")
    assert "Traceback" not in done.stderr

"""`imagegate plugins new NAME`: a provider plugin package that installs and passes its own
tests at once, for an OpenAI-style service (POST a JSON body, get `data[].url|b64_json`).

The author then changes the Provider, the models and the body to the real service's.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

__all__ = ["ScaffoldError", "files_for", "write_plugin"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ScaffoldError(Exception):
    """The name or the place is unusable; the message says why."""


def write_plugin(name: str, directory: Path = Path(".")) -> Path:
    """Write `imagegate-<name>/` under `directory`; returns its path."""
    provider = _provider_id(name)
    target = Path(directory) / f"imagegate-{provider}"
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or directory")
    for relative, text in files_for(provider).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def files_for(provider: str) -> dict[str, str]:
    """Relative path -> content of every file of the package for provider id `provider`."""
    from . import __version__

    minor = ".".join(__version__.split(".")[:2])
    values = {
        "id": provider,
        "module": f"imagegate_{provider.replace('-', '_')}",
        "dist": f"imagegate-{provider}",
        "display": " ".join(part.capitalize() for part in provider.split("-")),
        "env": provider.upper().replace("-", "_"),
        "core": f"imagegate>={minor}",
    }
    module = values["module"]
    return {
        "pyproject.toml": Template(PYPROJECT).substitute(values),
        "README.md": Template(README).substitute(values),
        ".gitignore": "__pycache__/\n*.egg-info/\ndist/\nbuild/\n.venv/\n",
        f"src/{module}/__init__.py": Template(MODULE).substitute(values),
        f"tests/test_{module.removeprefix('imagegate_')}.py": Template(TESTS).substitute(values),
    }


def _provider_id(name: str) -> str:
    from .catalog import FIRST_PARTY

    provider = name.strip().lower().removeprefix("imagegate-").replace("_", "-")
    if not _NAME.match(provider):
        raise ScaffoldError(
            f"{name!r} is not a usable plugin name: use lower-case letters, digits and "
            "single hyphens, starting with a letter (e.g. `acme` or `acme-cloud`)"
        )
    if provider in FIRST_PARTY:
        raise ScaffoldError(
            f"{provider!r} is the provider of {FIRST_PARTY[provider]}; choose another name"
        )
    return provider


PYPROJECT = """\
[project]
name = "$dist"
version = "0.1.0"
description = "imagegate provider plugin: $display"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["$core"]

[project.optional-dependencies]
test = ["pytest>=8"]

# how imagegate finds the plugin: group `imagegate`, name = the provider id
[project.entry-points.imagegate]
$id = "$module"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/$module"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

MODULE = '''\
"""imagegate provider plugin for $display.

    pip install $dist
    export IMAGEGATE_${env}_TOKEN=...
    imagegate generate "a lighthouse at dawn" -m $id/image-1

The service is assumed OpenAI-style: POST <base>/images/generations with a JSON body,
answering {"data": [{"url": ...} | {"b64_json": ...}]}. Change PROVIDER, MODELS and the
body to what the real service takes; tests/ checks the plugin against a fake of it.
"""

import imagegate
from imagegate import kit

PROVIDER = imagegate.Provider(
    id="$id",
    display_name="$display",
    model_prefix="$id",
    auth_prefix="$id",
    auth="required",
    base_url="https://api.$id.example/v1",
    key_url="https://$id.example/keys",
    distribution="$dist",
)

SENT = ("model", "prompt", "negative_prompt", "size", "seed", "steps", "guidance_scale", "n")
"""What the service takes, by imagegate's names (`kit.FIELDS`); `rename` gives its own."""

MODELS = [
    imagegate.Model(
        id="$id-image-1",
        display_name="$display Image 1",
        provider=PROVIDER,
        aliases=("image-1",),
        capabilities=imagegate.Capabilities(
            negative_prompt=True,
            steps=imagegate.IntRange(min=1, max=50, default=20),
            guidance=imagegate.FloatRange(min=0, max=20, default=4.5),
        ),
    ),
]


@imagegate.hookimpl
def list_models():
    return MODELS


@imagegate.hookimpl
async def generate(request, model, token, context):
    body = kit.fields(request, model, *SENT, rename={"steps": "num_inference_steps"})
    response = await kit.post(context, "/images/generations", json=body, token=token)
    return kit.json_images(response, model, token=token)
'''

TESTS = '''\
"""$dist against imagegate's fake upstream (no network): `fake_upstream` and
`gate_for` are fixtures of imagegate's pytest plugin."""

import pytest

import imagegate
import $module
from imagegate.testing import Answer, check_plugin


def test_the_plugin_is_installed():
    assert "$id/$id-image-1" in [m.full_id for m in imagegate.list_models()]


def test_conformance():
    check_plugin($module, ok=Answer.openai_images())


def test_sends_the_request_and_returns_the_image(fake_upstream, gate_for):
    fake_upstream.always(Answer.openai_images())
    gate = gate_for($module, fake_upstream)
    result = gate.generate("a lighthouse", model="$id/image-1", size="512x512", seed=7)
    assert result.images[0].read().startswith(b"\\x89PNG")
    sent = fake_upstream.requests[0]
    assert sent.path == "/images/generations"
    assert sent.json["size"] == "512x512" and sent.json["seed"] == 7
    assert sent.json["num_inference_steps"] == 20  # the model's default


def test_a_spent_quota_is_quota_exceeded(fake_upstream, gate_for):
    fake_upstream.always(Answer.error(429, "You exceeded your current quota"))
    with pytest.raises(imagegate.errors.QuotaExceeded) as caught:
        gate_for($module, fake_upstream).generate("a lighthouse", model="$id/image-1")
    assert caught.value.provider == "$id"
'''

README = """\
# $dist

An [imagegate](https://pypi.org/project/imagegate/) provider plugin for $display.

```bash
pip install $dist
export IMAGEGATE_${env}_TOKEN=...          # or: imagegate keys set $id
imagegate models --provider $id
imagegate generate "a lighthouse at dawn" -m $id/image-1
```

## Developing

```bash
pip install -e '.[test]'
pytest
```

The tests run against imagegate's fake upstream (`imagegate.testing`), never the real
service; `check_plugin` is the conformance check every provider plugin passes.

## Publishing

```bash
python -m pip install build twine
python -m build
python -m twine upload dist/*
```
"""

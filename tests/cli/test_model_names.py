"""A model is named the same everywhere, and `models show` tells where its calls go."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

import imagegate
import imagegate.plugins
import imagegate_gitee
import imagegate_huggingface
from imagegate.server import create_app

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def real_plugins(monkeypatch):
    monkeypatch.setenv("IMAGEGATE_LOAD_PLUGINS", "huggingface,gitee")
    monkeypatch.setenv("IMAGEGATE_PLUGINS", "")
    monkeypatch.setattr(imagegate.plugins, "_manager", None)


def cli_aliases(invoke) -> dict[str, set[str]]:
    outcome = invoke("models")
    assert outcome.code == 0, outcome.stderr
    rows = {}
    models_table = outcome.stdout.split("\n\n")[0]  # the families' table follows
    for line in models_table.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[1]] = set() if cells[2] == "-" else set(cells[2].split(", "))
    return rows


def docs_aliases() -> dict[str, set[str]]:
    rows = {}
    for line in (DOCS / "providers.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[2]))
    return rows


async def api_aliases() -> dict[str, set[str]]:
    gate = imagegate.Gate(plugins=[imagegate_huggingface, imagegate_gitee])
    transport = httpx.ASGITransport(app=create_app(gate))
    async with httpx.AsyncClient(transport=transport, base_url="http://imagegate.test") as c:
        listed = (await c.get("/v1/models")).json()["data"]
    return {e["id"]: set(e["aliases"]) for e in listed if not e.get("family")}


@pytest.mark.anyio
async def test_aliases_are_listed_the_same_by_the_cli_the_api_and_the_docs(invoke, real_plugins):
    cli, api, docs = cli_aliases(invoke), await api_aliases(), docs_aliases()
    assert set(cli) == set(api)
    for model_id, names in cli.items():
        assert names == api[model_id] == docs[model_id], model_id
    assert cli["hf/z-image-turbo"] == {"z-image-turbo"}  # the bare name, as it is typed
    assert cli["gitee/Qwen-Image"] == {"gitee/qwen-image"}


def test_every_listed_alias_names_its_model(invoke, real_plugins):
    for model_id, names in cli_aliases(invoke).items():
        for name in names:
            assert imagegate.Gate().get_model(name).full_id == model_id


def test_models_show_prints_the_base_url_in_use(invoke, real_plugins, monkeypatch):
    default = invoke("models", "show", "gitee/qwen-image").stdout
    assert re.search(r"base url\s+https://ai\.gitee\.com/v1\n", default)
    monkeypatch.setenv("IMAGEGATE_GITEE_BASE_URL", "http://127.0.0.1:4010/v1")
    shown = invoke("models", "show", "gitee/qwen-image")
    assert shown.code == 0
    line = next(x for x in shown.stdout.splitlines() if x.strip().startswith("base url "))
    assert "http://127.0.0.1:4010/v1" in line and "IMAGEGATE_GITEE_BASE_URL" in line
    document = json.loads(invoke("models", "show", "gitee/qwen-image", "--json").stdout)
    assert document["base_url"] == "http://127.0.0.1:4010/v1"


def test_models_show_for_a_space_says_where_it_goes(invoke, real_plugins, monkeypatch):
    assert "one host per Space" in invoke("models", "show", "hf/flux-1-schnell").stdout
    monkeypatch.setenv("IMAGEGATE_HUGGINGFACE_BASE_URL", "http://127.0.0.1:4011")
    assert "http://127.0.0.1:4011 (from" in invoke("models", "show", "flux-1-schnell").stdout

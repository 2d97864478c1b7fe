"""The user docs name every model the first-party plugins serve, with its aliases."""

from __future__ import annotations

from pathlib import Path

import imagegate
import imagegate_a4f
import imagegate_gitee
import imagegate_huggingface
import imagegate_modelscope

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_providers_page_lists_every_model_and_alias():
    page = (DOCS / "providers.md").read_text()
    plugins = [imagegate_a4f, imagegate_gitee, imagegate_huggingface, imagegate_modelscope]
    with imagegate.Gate(plugins=plugins) as gate:
        models = gate.list_models()
    assert len(models) == 21  # 5 + 7 + 4 + 5, as in the spec
    for model in models:
        assert f"`{model.full_id}`" in page, model.full_id
        for alias in model.aliases:
            assert f"`{model.provider.model_prefix}/{alias}`" in page, alias


def test_providers_page_has_a_row_per_family_naming_its_members():
    page = (DOCS / "providers.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in page.splitlines()
        if line.startswith("| `any/")
    }
    plugins = [imagegate_a4f, imagegate_gitee, imagegate_huggingface, imagegate_modelscope]
    with imagegate.Gate(plugins=plugins) as gate:
        families = gate.list_families()
    assert set(rows) == {family.full_id for family in families}
    for family in families:
        for member in family.members:
            assert f"`{member.full_id}`" in rows[family.full_id], member.full_id

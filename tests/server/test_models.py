"""GET /v1/models and /v1/models/{id}: OpenAI's list, with aliases and capabilities."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_models_are_an_openai_list_with_extensions(client):
    response = await client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    by_id = {entry["id"]: entry for entry in body["data"]}
    assert {"fake/basic", "fake/plain", "other/basic"} <= set(by_id)
    basic = by_id["fake/basic"]
    assert basic["object"] == "model"
    assert basic["owned_by"] == "fake"
    assert isinstance(basic["created"], int)
    assert basic["aliases"] == ["fake/b"]
    assert basic["capabilities"]["steps"] == {"min": 1, "max": 50, "default": 9}
    assert basic["capabilities"]["negative_prompt"] is True


@pytest.mark.parametrize("name", ["fake/basic", "fake/b", "FAKE/Basic"])
async def test_a_model_is_found_by_any_working_name(client, name):
    response = await client.get(f"/v1/models/{name}")
    assert response.status_code == 200
    assert response.json()["id"] == "fake/basic"


@pytest.mark.parametrize("name", ["fake/nope", "nope", "a4f/provider-4/nope"])
async def test_an_unknown_model_is_a_404_envelope(client, name):
    response = await client.get(f"/v1/models/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "model"


async def test_an_empty_model_id_is_a_404(client):
    assert (await client.get("/v1/models/")).status_code == 404

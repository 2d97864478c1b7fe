"""The Spaces rebuilt from their app.py: what gradio_client sees of them."""

from __future__ import annotations

import pytest

FLUX, Z = "black-forest-labs-flux-1-schnell", "mrfakename-z-image-turbo"


def client(emulator, space: str):
    from gradio_client import Client

    return Client(f"{emulator.root_url}/{space}/", download_files=False, verbose=False)


def test_the_endpoints_are_named_as_gradio_names_them(real_spaces_emulator):
    flux = client(real_spaces_emulator, FLUX)
    z = client(real_spaces_emulator, Z)
    assert set(flux.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
        "/infer"
    }
    named = z.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/generate_image", "/generate_image_1", "/toggle_seed"} <= set(named)
    # the lazily cached examples come first: the Space's function is not fn_index 0
    names = [d.get("api_name") for d in flux.config["dependencies"]]
    assert names.index("infer") > 0
    flux.close()
    z.close()


def test_flux_makes_the_multiple_of_16_below_and_z_image_hides_its_refusal(real_spaces_emulator):
    from gradio_client.exceptions import AppError

    flux = client(real_spaces_emulator, FLUX)
    image, seed = flux.predict("a cat", 3, False, 1000, 300, 1, api_name="/infer")
    assert seed == 3 and image["url"].endswith(".webp")
    z = client(real_spaces_emulator, Z)
    with pytest.raises(AppError, match="verbose error reporting"):
        z.predict("a cat", 1000, 512, 1, 1, False, api_name="/generate_image")
    flux.close()
    z.close()


def test_the_stub_zerogpu_speaks_todays_wording(real_spaces_emulator):
    from gradio_client.exceptions import AppError

    real_spaces_emulator.control.options["zerogpu_left"] = 30
    z = client(real_spaces_emulator, Z)
    with pytest.raises(AppError) as caught:
        z.predict("a cat", 512, 512, 1, 1, False, api_name="/generate_image")
    z.close()
    assert str(caught.value.message) == (
        "You have exceeded your free GPU quota (60s requested vs. 30s left). Try again in 0:12:34"
    )

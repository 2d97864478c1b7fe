"""The four Spaces' Gradio apps: signatures of protocols.md 4.3, pipelines as diffusers has them.

Each builder returns a Blocks app with the Space's api_name, inputs (order, component types,
ranges, defaults) and outputs. The function body stands in for the model's diffusers
pipeline, with the pipeline's own size rule: Z-Image raises a ValueError unless width and
height are multiples of 16 (`ZImagePipeline.__call__`); FLUX and Ovis log a warning and
make the image at the multiples of 16 below (`check_inputs`, `prepare_latents`). A Space
runs with `show_error=False` like a real one, so the Z-Image ValueError reaches the caller
as Gradio's opaque error. `gallery=True` builds the same Space with a `gr.Gallery` output
(a list of images) instead of one `gr.Image`, as some Spaces answer.
"""

# No `from __future__ import annotations`: Gradio finds `request: gr.Request` by evaluated hint.
import random
from typing import Any

__all__ = ["BUILDERS", "MAX_SEED", "QWEN_SIZES", "VAE_MULTIPLE", "pipeline_size"]

MAX_SEED = 2**31 - 1
VAE_MULTIPLE = 16
"""diffusers' `vae_scale_factor * 2` for these DiT pipelines: sizes are made in steps of 16."""

# Qwen-Image's usual presets (protocols.md 4.3 (b): the Space's own table is UNCERTAIN).
QWEN_SIZES = {
    "1:1": (1328, 1328),
    "16:9": (1664, 928),
    "9:16": (928, 1664),
    "4:3": (1472, 1104),
    "3:4": (1104, 1472),
    "3:2": (1584, 1056),
    "2:3": (1056, 1584),
}


def pipeline_size(width: float, height: float, *, strict: bool) -> tuple[int, int]:
    """The size a pipeline makes: `strict` (Z-Image) raises off the rule, else rounds down."""
    width, height = int(width), int(height)
    if strict:
        for name, side in (("Height", height), ("Width", width)):
            if side % VAE_MULTIPLE:
                raise ValueError(
                    f"{name} must be divisible by {VAE_MULTIPLE} (got {side}). "
                    f"Please adjust the {name.lower()} to a multiple of {VAE_MULTIPLE}."
                )
        return width, height
    return width // VAE_MULTIPLE * VAE_MULTIPLE, height // VAE_MULTIPLE * VAE_MULTIPLE


def _seed(seed: float, randomize: bool, top: int) -> int:
    return random.randint(0, top) if randomize else int(seed)


def _output(gr: Any, gallery: bool, label: str) -> Any:
    if gallery:
        return gr.Gallery(label=label, format="webp")
    return gr.Image(label=label, format="webp")


def _shaped(image: Any, gallery: bool) -> Any:
    return [image] if gallery else image


def z_image(gr: Any, runner: Any, gallery: bool = False) -> Any:
    async def generate_image(
        prompt: str,
        height: float,
        width: float,
        num_inference_steps: float,
        seed: float,
        randomize_seed: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's own idiom)
    ) -> tuple[Any, int]:
        inputs = dict(
            prompt=prompt,
            height=height,
            width=width,
            num_inference_steps=num_inference_steps,
            seed=seed,
            randomize_seed=randomize_seed,
        )
        api = "/generate_image"
        await runner.run(gr, api, inputs, request, progress, int(num_inference_steps))
        used = _seed(seed, randomize_seed, 2**32 - 1)
        made_w, made_h = pipeline_size(width, height, strict=True)
        return _shaped(runner.image(prompt, used, made_w, made_h), gallery), used

    with gr.Blocks(title="Z-Image Turbo") as blocks:
        prompt = gr.Textbox(label="Prompt")
        height = gr.Slider(512, 2048, value=1024, step=64, label="Height")
        width = gr.Slider(512, 2048, value=1024, step=64, label="Width")
        steps = gr.Slider(1, 20, value=9, step=1, label="Inference Steps")
        seed = gr.Number(value=42, precision=0, label="Seed", visible=False)
        randomize = gr.Checkbox(value=True, label="Randomize Seed")
        button = gr.Button("Generate")
        image = _output(gr, gallery, "Generated Image")
        seed_used = gr.Number(label="Seed Used")
        wiring = dict(
            fn=generate_image,
            inputs=[prompt, height, width, steps, seed, randomize],
            outputs=[image, seed_used],
            api_name="generate_image",
        )
        button.click(**wiring)
        prompt.submit(**{**wiring, "api_name": "generate_image_1"})
    return blocks


def qwen_image_fast(gr: Any, runner: Any, gallery: bool = False) -> Any:
    async def generate_image(
        prompt: str,
        seed: float,
        randomize_seed: bool,
        aspect_ratio: str,
        guidance_scale: float,
        num_inference_steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, str]:
        inputs = dict(
            prompt=prompt,
            seed=seed,
            randomize_seed=randomize_seed,
            aspect_ratio=aspect_ratio,
            guidance_scale=guidance_scale,
            num_inference_steps=num_inference_steps,
        )
        api = "/generate_image"
        await runner.run(gr, api, inputs, request, progress, int(num_inference_steps))
        used = _seed(seed, randomize_seed, MAX_SEED)
        width, height = QWEN_SIZES[aspect_ratio]
        image = runner.image(prompt, used, width, height)
        return _shaped(image, gallery), f"Seed used for generation: {used}"

    with gr.Blocks(title="Qwen-Image-Fast") as blocks:
        prompt = gr.Textbox(label="Prompt")
        seed = gr.Slider(0, MAX_SEED, value=0, step=1, label="Seed")
        randomize = gr.Checkbox(value=True, label="Randomize seed")
        ratio = gr.Dropdown(list(QWEN_SIZES), value="16:9", label="Aspect ratio")
        guidance = gr.Slider(1.0, 10.0, value=1.0, step=0.1, label="Guidance scale")
        steps = gr.Slider(4, 28, value=8, step=1, label="Inference steps")
        button = gr.Button("Generate")
        image = _output(gr, gallery, "Result")
        seed_text = gr.Textbox(label="Seed")
        button.click(
            fn=generate_image,
            inputs=[prompt, seed, randomize, ratio, guidance, steps],
            outputs=[image, seed_text],
            api_name="generate_image",
        )
    return blocks


def ovis_image(gr: Any, runner: Any, gallery: bool = False) -> Any:
    # Whether Ovis reports a seed is UNCERTAIN (protocols.md 4.3 (c)): it answers the image only.
    async def generate(
        prompt: str,
        height: float,
        width: float,
        seed: float,
        num_inference_steps: float,
        guidance_scale: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Any:
        inputs = dict(
            prompt=prompt,
            height=height,
            width=width,
            seed=seed,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
        )
        await runner.run(gr, "/generate", inputs, request, progress, int(num_inference_steps))
        made_w, made_h = pipeline_size(width, height, strict=False)
        return _shaped(runner.image(prompt, int(seed), made_w, made_h), gallery)

    with gr.Blocks(title="Ovis-Image-7B") as blocks:
        prompt = gr.Textbox(label="Prompt")
        height = gr.Slider(256, 2048, value=1024, step=32, label="Height")
        width = gr.Slider(256, 2048, value=1024, step=32, label="Width")
        seed = gr.Number(value=42, precision=0, label="Seed")
        steps = gr.Slider(1, 50, value=24, step=1, label="Steps")
        guidance = gr.Slider(0.0, 20.0, value=4.0, step=0.5, label="Guidance scale")
        button = gr.Button("Generate")
        image = _output(gr, gallery, "Image")
        button.click(
            fn=generate,
            inputs=[prompt, height, width, seed, steps, guidance],
            outputs=[image],
            api_name="generate",
        )
    return blocks


def flux_schnell(gr: Any, runner: Any, gallery: bool = False) -> Any:
    async def infer(
        prompt: str,
        seed: float,
        randomize_seed: bool,
        width: float,
        height: float,
        num_inference_steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, int]:
        inputs = dict(
            prompt=prompt,
            seed=seed,
            randomize_seed=randomize_seed,
            width=width,
            height=height,
            num_inference_steps=num_inference_steps,
        )
        await runner.run(gr, "/infer", inputs, request, progress, int(num_inference_steps))
        used = _seed(seed, randomize_seed, MAX_SEED)
        made_w, made_h = pipeline_size(width, height, strict=False)
        return _shaped(runner.image(prompt, used, made_w, made_h), gallery), used

    with gr.Blocks(title="FLUX.1 [schnell]") as blocks:
        prompt = gr.Text(label="Prompt")
        seed = gr.Slider(0, MAX_SEED, value=0, step=1, label="Seed")
        randomize = gr.Checkbox(value=True, label="Randomize seed")
        width = gr.Slider(256, 2048, value=1024, step=32, label="Width")
        height = gr.Slider(256, 2048, value=1024, step=32, label="Height")
        steps = gr.Slider(1, 50, value=4, step=1, label="Number of inference steps")
        button = gr.Button("Run")
        image = _output(gr, gallery, "Result")
        button.click(
            fn=infer,
            inputs=[prompt, seed, randomize, width, height, steps],
            outputs=[image, seed],
            api_name="infer",
        )
    return blocks


BUILDERS = {
    "luca115-z-image-turbo": z_image,
    "mrfakename-z-image-turbo": z_image,
    "mcp-tools-qwen-image-fast": qwen_image_fast,
    "aidc-ai-ovis-image-7b": ovis_image,
    "black-forest-labs-flux-1-schnell": flux_schnell,
}
"""Space host subdomain -> the builder of its app."""

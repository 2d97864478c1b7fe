"""Two Spaces rebuilt as their real `app.py` files build them, with a stub pipeline.

Independent of `spaces.py` (whose apps follow the protocol notes): these follow the public
app.py of each Space, component by component and event by event, so whatever the real
file does that the notes left out is here too.

- `black-forest-labs-flux-1-schnell`: `MAX_SEED = np.iinfo(np.int32).max`, a
  `@spaces.GPU` `infer(prompt, seed=42, randomize_seed=False, width=1024, height=1024,
  num_inference_steps=4, progress=gr.Progress(track_tqdm=True))` that seeds
  `torch.Generator().manual_seed(seed)` (an int, or it raises) and calls the FLUX pipeline
  with guidance 0; prompt and Run button, the image, an "Advanced Settings" accordion with
  the seed slider (0..MAX_SEED), the randomize checkbox (on), width and height sliders
  (256..2048, step 32, 1024) and steps (1..50, 4); `gr.Examples(..., fn=infer,
  cache_examples="lazy")` (Gradio 6: `cache_mode="lazy"`) before the event, so the
  Space's own function is not fn_index 0;
  `gr.on(triggers=[run_button.click, prompt.submit], fn=infer, ...)` with no api_name
  (Gradio names it `/infer`); `demo.queue(max_size=20)`; launched without show_error.
- `mrfakename-z-image-turbo` (also mounted as `luca115-z-image-turbo`, whose own app.py is
  not public and which the reference client treats as the same): `generate_image(prompt,
  height, width, num_inference_steps, seed, randomize_seed, progress=...)` drawing a seed
  from 0..2**32-1 when asked, the Z-Image pipeline with guidance 0; height and width
  sliders (512..2048, step 64), steps (1..20, 9), the randomize checkbox (on) and a hidden
  seed number (42) toggled by `randomize_seed.change`, examples without a function, and the
  same function bound to the button click and the prompt submit (`/generate_image`,
  `/generate_image_1`); launched without show_error.

The stub pipelines keep diffusers' size rules (Z-Image raises a ValueError off multiples
of 16; FLUX logs a warning and makes the multiple of 16 below) and draw the emulators'
image. The stub `spaces.GPU` asks a stub ZeroGPU for time the way the `spaces` package
does and, when `control.options["zerogpu_left"]` (seconds) is below the 60 s it requests,
raises its message: "You have exceeded your free GPU quota (60s requested vs. Ns left).
Try again in <timedelta>", the wait being `control.options["zerogpu_wait"]` seconds
(754 by default, printed by `timedelta` as 0:12:34).
"""

# No `from __future__ import annotations`: Gradio reads the functions' signatures.
import functools
import io
import os
import random
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from .control import Control, Recorded
from .images import render

__all__ = ["BASE_PATH", "SPACES", "create_app"]

BASE_PATH = ""
SPACES = ("black-forest-labs-flux-1-schnell", "mrfakename-z-image-turbo", "luca115-z-image-turbo")
REQUESTED_GPU_SECONDS = 60


class _ZeroGPU:
    """The `spaces` package as a Space sees it: `@spaces.GPU` around the GPU function."""

    def __init__(self, control: Control) -> None:
        self.control = control

    def GPU(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            import gradio as gr

            left = self.control.options.get("zerogpu_left")
            if left is not None and left < REQUESTED_GPU_SECONDS:
                wait = timedelta(seconds=int(self.control.options.get("zerogpu_wait", 754)))
                raise gr.Error(
                    f"You have exceeded your free GPU quota ({REQUESTED_GPU_SECONDS}s "
                    f"requested vs. {left}s left). Try again in {wait}"
                )
            return fn(*args, **kwargs)

        return wrapper


class _Generator:
    """`torch.Generator().manual_seed(seed)`: an int only, as torch has it."""

    def manual_seed(self, seed: Any) -> "_Generator":
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        self.seed = seed
        return self


class _Pipeline:
    """A diffusers pipeline with its size rule, drawing the emulators' image."""

    def __init__(self, *, strict_sizes: bool) -> None:
        self.strict_sizes = strict_sizes

    def __call__(self, *, prompt, width, height, num_inference_steps, generator, guidance_scale):
        import logging

        from PIL import Image

        for name, side in (("Height", height), ("Width", width)):
            if side % 16 and self.strict_sizes:
                raise ValueError(
                    f"{name} must be divisible by 16 (got {side}). Please adjust the "
                    f"{name.lower()} to a multiple of 16."
                )
        if height % 16 or width % 16:
            logging.getLogger("diffusers").warning(
                "`height` and `width` have to be divisible by 16 but are %s and %s. "
                "Dimensions will be resized accordingly",
                height,
                width,
            )
        width, height = int(width) // 16 * 16, int(height) // 16 * 16
        data = render(prompt, generator.seed % (2**31), width, height, "webp")
        return type("Output", (), {"images": [Image.open(io.BytesIO(data))]})()


def create_app(control: Control) -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import gradio as gr
    from fastapi import FastAPI

    app = FastAPI()
    for route in control.routes():
        app.router.routes.append(route)
    temp = Path(tempfile.gettempdir()) / "imagegate-real-spaces"
    os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(temp / "examples"))
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(temp)
    try:
        spaces = _ZeroGPU(control)
        for path, build in (
            ("black-forest-labs-flux-1-schnell", _flux_schnell),
            ("mrfakename-z-image-turbo", _z_image_turbo),
            ("luca115-z-image-turbo", _z_image_turbo),
        ):
            demo = build(gr, spaces, _recorder(control, path))
            gr.mount_gradio_app(app, demo, path=f"/{path}", show_error=False)  # as launch()
    finally:
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous
    return app


def _recorder(control: Control, space: str) -> Any:
    def record(api_name: str, inputs: dict[str, Any]) -> None:
        control.record(Recorded("CALL", f"/{space}{api_name}", {}, {}, b"", {"inputs": inputs}))

    return record


def _flux_schnell(gr: Any, spaces: _ZeroGPU, record: Any) -> Any:
    max_seed = 2**31 - 1  # np.iinfo(np.int32).max
    max_image_size = 2048
    pipe = _Pipeline(strict_sizes=False)

    @spaces.GPU
    def infer(
        prompt,
        seed=42,
        randomize_seed=False,
        width=1024,
        height=1024,
        num_inference_steps=4,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008
    ):
        record("/infer", dict(prompt=prompt, seed=seed, width=width, height=height))
        if randomize_seed:
            seed = random.randint(0, max_seed)
        generator = _Generator().manual_seed(seed)
        image = pipe(
            prompt=prompt,
            width=width,
            height=height,
            num_inference_steps=num_inference_steps,
            generator=generator,
            guidance_scale=0.0,
        ).images[0]
        return image, seed

    examples = [
        "a tiny astronaut hatching from an egg on the moon",
        "a cat holding a sign that says hello world",
    ]
    with gr.Blocks() as demo:
        with gr.Column():
            gr.Markdown("# FLUX.1 [schnell]")
            with gr.Row():
                prompt = gr.Text(label="Prompt", show_label=False, max_lines=1, container=False)
                run_button = gr.Button("Run", scale=0)
            result = gr.Image(label="Result", show_label=False)
            with gr.Accordion("Advanced Settings", open=False):
                seed = gr.Slider(label="Seed", minimum=0, maximum=max_seed, step=1, value=0)
                randomize_seed = gr.Checkbox(label="Randomize seed", value=True)
                with gr.Row():
                    width = gr.Slider(
                        label="Width", minimum=256, maximum=max_image_size, step=32, value=1024
                    )
                    height = gr.Slider(
                        label="Height", minimum=256, maximum=max_image_size, step=32, value=1024
                    )
                with gr.Row():
                    num_inference_steps = gr.Slider(
                        label="Number of inference steps", minimum=1, maximum=50, step=1, value=4
                    )
            gr.Examples(
                examples=examples,
                fn=infer,
                inputs=[prompt],
                outputs=[result, seed],
                cache_examples=True,  # the app.py's cache_examples="lazy", as Gradio 6 says it
                cache_mode="lazy",
            )
        gr.on(
            triggers=[run_button.click, prompt.submit],
            fn=infer,
            inputs=[prompt, seed, randomize_seed, width, height, num_inference_steps],
            outputs=[result, seed],
        )
    return demo.queue(max_size=20)


def _z_image_turbo(gr: Any, spaces: _ZeroGPU, record: Any) -> Any:
    pipe = _Pipeline(strict_sizes=True)

    @spaces.GPU
    def generate_image(
        prompt,
        height,
        width,
        num_inference_steps,
        seed,
        randomize_seed,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008
    ):
        record("/generate_image", dict(prompt=prompt, seed=seed, width=width, height=height))
        if randomize_seed:
            seed = random.randint(0, 2**32 - 1)
        generator = _Generator().manual_seed(int(seed))
        image = pipe(
            prompt=prompt,
            height=int(height),
            width=int(width),
            num_inference_steps=int(num_inference_steps),
            guidance_scale=0.0,
            generator=generator,
        ).images[0]
        return image, seed

    with gr.Blocks(fill_height=True) as demo:
        gr.Markdown("# Z-Image-Turbo")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                prompt = gr.Textbox(label="Your Prompt", lines=5, max_lines=10)
                with gr.Accordion("Advanced Settings", open=False):
                    with gr.Row():
                        height = gr.Slider(
                            minimum=512, maximum=2048, value=1024, step=64, label="Height"
                        )
                        width = gr.Slider(
                            minimum=512, maximum=2048, value=1024, step=64, label="Width"
                        )
                    num_inference_steps = gr.Slider(
                        minimum=1, maximum=20, value=9, step=1, label="Inference Steps"
                    )
                    with gr.Row():
                        randomize_seed = gr.Checkbox(label="Random Seed", value=True)
                        seed = gr.Number(label="Seed", value=42, precision=0, visible=False)

                    def toggle_seed(randomize):
                        return gr.Number(visible=not randomize)

                    randomize_seed.change(toggle_seed, inputs=[randomize_seed], outputs=[seed])
                generate_btn = gr.Button("Generate Image", variant="primary")
                gr.Examples(examples=[["A majestic dragon at sunset"]], inputs=[prompt])
            with gr.Column(scale=1, min_width=320):
                output_image = gr.Image(label="Generated Image", type="pil", show_label=False)
                used_seed = gr.Number(label="Seed Used", interactive=False)
        wiring = dict(
            fn=generate_image,
            inputs=[prompt, height, width, num_inference_steps, seed, randomize_seed],
            outputs=[output_image, used_seed],
        )
        generate_btn.click(**wiring)
        prompt.submit(**wiring)
    return demo

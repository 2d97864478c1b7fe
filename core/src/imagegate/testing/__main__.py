"""`python -m imagegate.testing [--port N] [--answer image|openai]`: a fake upstream to
point a plugin at by hand (`IMAGEGATE_<ID>_BASE_URL=<its URL>`), until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import threading

from .fake import Answer, FakeUpstream

ANSWERS = {"image": Answer.image(512, 512), "openai": Answer.openai_images()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m imagegate.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any)")
    parser.add_argument(
        "--answer",
        choices=sorted(ANSWERS),
        default="image",
        help="image: PNG bytes; openai: {'data': [{'url'}]} (default: image)",
    )
    options = parser.parse_args(argv)
    upstream = FakeUpstream(port=options.port)
    upstream.always(ANSWERS[options.answer])
    with upstream:
        print(
            f"fake upstream on {upstream.url} ({options.answer} answers); Ctrl-C stops it",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()

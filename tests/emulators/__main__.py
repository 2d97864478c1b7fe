"""`python -m tests.emulators`: start every emulator on loopback and print the lines to
export, so the CLI or the server can be run against them offline. Ctrl-C stops them."""

from __future__ import annotations

import argparse
import os
import time

from .harness import DEFAULT_EMULATORS, EMULATORS, start_emulator


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        default=list(DEFAULT_EMULATORS),
        help=f"which emulators, of {', '.join(EMULATORS)} (default: one per provider)",
    )
    parser.add_argument("--delay", type=float, default=0.0, help="standing delay per answer (s)")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in EMULATORS]
    if unknown:
        parser.error(f"unknown emulator {unknown[0]!r}; choose from {', '.join(EMULATORS)}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    running = []
    for name in args.names:
        emulator = start_emulator(name)
        emulator.control.delay = args.delay
        running.append(emulator)
        for key, value in emulator.env.items():
            print(f"export {key}={value}", flush=True)
    print("# emulators running; control API at <root>/_control/*; Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for emulator in running:
            emulator.stop()


if __name__ == "__main__":
    main()

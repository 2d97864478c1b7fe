"""The garbage collector of an `imagegate serve` process, tuned for serving.

Every request keeps a few thousand objects alive while it waits for its provider, so under
load they outlive the young generation, and the older collections that follow traced the
whole heap the server built at start-up (modules, models, schemas, ~60,000 objects) each
time: at concurrency 200 with a 500 ms upstream the collector took about a seventh of the
server's CPU, mostly in those full collections. `gc.freeze()` once the server is up
(plugins loaded) moves what exists then, which lives as long as the process anyway, out of
every collection's way. A larger young generation was tried too: fewer collections, but
longer pauses, and no better throughput (bench/README.md).

Only `imagegate serve` does this (`app.state.tune_gc`); an app mounted in another process
leaves that process's collector alone.
"""

from __future__ import annotations

import gc

__all__ = ["tune_for_serving"]


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()

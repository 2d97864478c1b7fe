"""The garbage collector of an `imagegate serve` process, tuned for serving.

Every request keeps a few thousand objects alive while it waits for its provider, so under
load they outlive the young generation, and the older collections that follow traced the
whole heap the server built at start-up (modules, models, schemas, ~60,000 objects) each
time: at concurrency 200 with a 500 ms upstream the collector took about a seventh of the
server's CPU, mostly in those full collections. `gc.freeze()` once the server is up
(plugins loaded) moves what exists then, which lives as long as the process anyway, out of
every collection's way.

With the shared client no longer leaving a reference cycle per answer (`imagegate.http`),
what a request allocates is freed by reference counting when it ends, so the young
generation can be larger: a collection every 10,000 net allocations instead of 700. At
concurrency 50 the collector's share of the server's time fell from about a seventh to under
1%, and the CPU per request by about 6% (bench/README.md). Before the cycle was gone, a
larger young generation let that garbage pile up and cost more than it saved.

Only `imagegate serve` does this (`app.state.tune_gc`); an app mounted in another process
leaves that process's collector alone.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_for_serving"]

YOUNG_THRESHOLD = 10_000


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)

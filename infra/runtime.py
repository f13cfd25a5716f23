"""Interpreter tuning for one run of the program (`pulumi up`, `mlinfra plan`, the benchmark).

`tune()` changes three things in the running interpreter:

1. `gc.collect()` then `gc.freeze()`: what is alive when the program starts (the SDK and what
   was imported before it) moves to the collector's permanent generation, which it never
   scans again. Collecting first means no garbage is frozen, so nothing leaks.
2. `gc.set_threshold(100_000, 50, 100)` instead of (700, 10, 10): registering a resource makes
   many short-lived cycles (futures, callbacks, Outputs) while the heap keeps every resource,
   and the provider classes, alive; with the default thresholds a full collection rescans that
   growing heap again and again (measured: 29 % of the plan's CPU at 100 resources, 56 % at
   1,000). The cycles are still collected, in batches; the plan's peak memory grows by a few
   MiB at 1,000 resources (see bench/README.md).
3. At interpreter exit (an `atexit` handler, registered once): `gc.disable()` and
   `gc.freeze()`, so the interpreter's teardown does not run the collector over the whole
   heap while it clears modules (measured: ~0.7-1 s of a 1,000-resource plan's exit, down to
   ~0.05 s).

Why it is safe for `pulumi up`: the language host starts one Python process per deployment,
runs the program once and lets the process exit. No object's behaviour depends on when the
cyclic collector runs; only the timing of freeing unreachable cycles changes. At exit, objects
left in cycles are not finalized, which Python never guarantees at exit anyway; open files are
closed by the operating system and the standard streams are flushed by the interpreter itself.
Calling `tune()` again (the tests run many programs in one process) only collects and freezes
once more; the exit handler is registered once.
"""

from __future__ import annotations

import atexit
import gc

THRESHOLDS = (100_000, 50, 100)
"""Allocations before a young collection, young collections before a middle one, middle
collections before a full one (CPython's defaults: 700, 10, 10)."""

_exit_handler_registered = False


def tune() -> None:
    """Freeze what is alive now, raise the collector's thresholds, and skip it at exit."""
    global _exit_handler_registered
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    if not _exit_handler_registered:
        atexit.register(_quiet_exit)
        _exit_handler_registered = True


def _quiet_exit() -> None:
    """Leave the heap to the operating system: no full collections during teardown."""
    gc.disable()
    gc.freeze()

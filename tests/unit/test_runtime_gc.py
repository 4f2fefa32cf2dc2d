"""The dispatcher's collector settings (app.runtime.tune_gc), restored afterwards."""

from __future__ import annotations

import gc

from app.runtime import GC_THRESHOLD0, tune_gc


def test_tune_gc_freezes_startup_objects_and_spaces_young_collections() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0  # this process's modules and objects so far
        assert gc.get_threshold() == (GC_THRESHOLD0, before[1], before[2])
        garbage = [[]]  # a cycle made afterwards is still collected
        garbage[0].append(garbage)
        del garbage
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

"""JSON merge patch (RFC 7396)."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """``patch`` applied to ``target``: objects merge key by key, null removes a key,
    anything else replaces. Neither argument is modified."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def diff_patch(old: Any, new: Any) -> Any:
    """The merge patch that turns ``old`` into ``new`` (``merge_patch(old, diff_patch(old,
    new)) == new`` wherever ``new`` holds no null): removed keys become null, changed
    objects are diffed key by key, anything else is replaced."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = diff_patch(old[key], value)
    return patch

"""The forecast as a server-drawn SVG bar chart: fires per bucket of minutes ahead. Pure;
the SVG holds numbers and times only (no tenant text) and no style attribute, so the
strict Content-Security-Policy lets it through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from app.models import parse_rfc3339

WIDTH, HEIGHT, PAD, TOP = 960, 220, 24, 20
MAX_BARS = 72


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fires: int
    label: str


def buckets(counts: list[int], max_bars: int = MAX_BARS) -> tuple[int, list[int]]:
    """Minutes per bar and the fires of each bar (the last may cover fewer minutes)."""
    size = max(1, -(-len(counts) // max_bars))
    return size, [sum(counts[i : i + size]) for i in range(0, len(counts), size)]


def bars(minutes: list[dict[str, Any]]) -> tuple[int, list[Bar]]:
    counts = [int(m["fires"]) for m in minutes]
    size, sums = buckets(counts)
    peak = max(sums, default=0) or 1
    width = (WIDTH - PAD) / max(1, len(sums))
    out = []
    for i, n in enumerate(sums):
        h = (HEIGHT - PAD - TOP) * n / peak
        at = parse_rfc3339(minutes[i * size]["at"]).strftime("%H:%M")
        out.append(Bar(PAD + i * width, HEIGHT - PAD - h, max(1.0, width - 1), h, n, at))
    return size, out


@dataclass(frozen=True)
class Chart:
    svg: Markup
    minutes_per_bar: int


def forecast_svg(forecast: dict[str, Any]) -> Chart:
    size, drawn = bars(forecast["minutes"])
    unit = "minute" if size == 1 else f"{size} minutes"
    peak = max((b.fires for b in drawn), default=0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="fires per {unit}, peak {peak}">',
        f'<text x="{PAD}" y="12">{peak} per bar at most</text>',
    ]
    for b in drawn:
        parts.append(
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.width:.1f}" height="{b.height:.1f}">'
            f"<title>{escape(b.label)}: {b.fires} fires</title></rect>"
        )
    step = max(1, len(drawn) // 6)
    for b in drawn[::step]:
        parts.append(f'<text x="{b.x:.1f}" y="{HEIGHT - 6}">{escape(b.label)}</text>')
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), size)

"""Charts as inline SVG (no scripts, no external assets). Pure: numbers and labels in, markup out."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH = 760
BAR = 22
LABEL = 52  # characters of a bar's label; the full text is in its tooltip


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def bars(rows: Sequence[tuple[str, float]], *, label: str) -> Markup:
    """Horizontal bars, one per (label, share 0..1)."""
    height = BAR * len(rows) + 10
    left, right = 360, 60
    span = WIDTH - left - right
    parts = [f'<svg class="chart bars" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for i, (name, share) in enumerate(rows):
        y = 5 + i * BAR
        width = max(0.0, min(share, 1.0)) * span
        short = name if len(name) <= LABEL else name[:LABEL - 1].rstrip() + "…"
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(short)}'
                     f'<title>{escape(name)}</title></text>')
        parts.append(f'<rect class="bar" x="{left}" y="{y + 3}" width="{width:.1f}" height="{BAR - 6}" fill="#2a6f97" '
                     f'data-value="{share:.4f}"><title>{escape(name)}: {_pct(share)}</title></rect>')
        parts.append(f'<text x="{left + width + 6:.1f}" y="{y + 15}" font-size="12">{_pct(share)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above is escaped


def histogram(shares: Sequence[float], *, label: str) -> Markup:
    """Vertical bars for the score distribution in tenths (0-10% ... 90-100%)."""
    height, bottom, top = 220, 30, 10
    span = height - bottom - top
    step = (WIDTH - 40) / max(len(shares), 1)
    peak = max([*shares, 0.01])
    parts = [f'<svg class="chart histogram" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for i, share in enumerate(shares):
        h = share / peak * span
        x = 20 + i * step
        parts.append(f'<rect class="bar" x="{x + 3:.1f}" y="{height - bottom - h:.1f}" width="{step - 6:.1f}" '
                     f'height="{h:.1f}" fill="#2a6f97" data-value="{share:.4f}"><title>{i * 10}-{i * 10 + 10}%: '
                     f'{_pct(share)}</title></rect>')
        parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11">{i * 10}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - no text from outside


def trend(points: Sequence[tuple[str, float]], *, label: str) -> Markup:
    """A line of shares (0..1) over periods."""
    height, bottom, top, left = 200, 30, 10, 40
    span_y = height - bottom - top
    step = (WIDTH - left - 50) / max(len(points) - 1, 1)
    coords = [(left + i * step, height - bottom - max(0.0, min(v, 1.0)) * span_y) for i, (_, v) in enumerate(points)]
    parts = [f'<svg class="chart trend" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH - 10}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{height - bottom + 4}" text-anchor="end" font-size="11">0%</text>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">100%</text>',
             f'<line x1="{left}" y1="{top}" x2="{WIDTH - 10}" y2="{top}" stroke="#eee"/>']
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#2a6f97" stroke-width="2"/>')
    for (name, value), (x, y) in zip(points, coords, strict=True):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#2a6f97" data-value="{value:.4f}">'
                     f'<title>{escape(name)}: {_pct(value)}</title></circle>')
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above is escaped

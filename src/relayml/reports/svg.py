"""Small charts drawn as inline SVG text: a timeline of environments, bars, and a line.

No library and no script: the report opens offline and stays small (a chart is a few KB).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

__all__ = ["bars", "line", "timeline"]

_COLOURS = {"production": "#2f6f4f", "staging": "#c98a1b", "development": "#5b7fa6"}
_FONT = 'font-family="sans-serif" font-size="11"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def timeline(stretches: list[tuple[str, int, datetime, datetime | None]], now: datetime) -> str:
    """One lane per environment; a bar per version from when it entered to when it left."""
    if not stretches:
        return ""
    lanes = [
        e for e in ("development", "staging", "production") if any(s[0] == e for s in stretches)
    ]
    start = min(s[2] for s in stretches).timestamp()
    end = max([now.timestamp(), *((s[3] or now).timestamp() for s in stretches)])
    span = max(end - start, 1.0)
    left, width, lane_h = 90, 560, 26
    body = []
    for i, lane in enumerate(lanes):
        y = 10 + i * lane_h
        body.append(f'<text x="4" y="{y + 15}" {_FONT}>{lane}</text>')
        for env, version, since, until in stretches:
            if env != lane:
                continue
            x0 = left + (since.timestamp() - start) / span * width
            x1 = left + ((until or now).timestamp() - start) / span * width
            w = max(x1 - x0, 2.0)
            tip = f"{env}: v{version} from {since:%Y-%m-%d %H:%M} to " + (
                f"{until:%Y-%m-%d %H:%M}" if until else "now"
            )
            body.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="20" '
                f'fill="{_COLOURS.get(env, "#777")}" stroke="#fff"><title>{escape(tip)}</title>'
                "</rect>"
            )
            if w > 18:
                body.append(
                    f'<text x="{x0 + 3:.1f}" y="{y + 14}" fill="#fff" {_FONT}>v{version}</text>'
                )
    axis_y = 14 + len(lanes) * lane_h
    first, last = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    body.append(f'<text x="{left}" y="{axis_y}" {_FONT}>{first:%Y-%m-%d}</text>')
    body.append(
        f'<text x="{left + width}" y="{axis_y}" text-anchor="end" {_FONT}>{last:%Y-%m-%d}</text>'
    )
    return _svg(left + width + 10, axis_y + 6, body, "which version was in which environment when")


def bars(values: dict[str, float], title: str) -> str:
    """Horizontal bars, largest first (e.g. global importance per input)."""
    if not values:
        return ""
    top = max(abs(v) for v in values.values()) or 1.0
    left, width, row = 150, 380, 20
    body = []
    for i, (name, value) in enumerate(values.items()):
        y = 6 + i * row
        w = abs(value) / top * width
        body.append(f'<text x="4" y="{y + 12}" {_FONT}>{escape(name[:24])}</text>')
        body.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="14" fill="#5b7fa6"/>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 12}" {_FONT}>{value:.4g}</text>')
    return _svg(left + width + 70, 12 + len(values) * row, body, title)


def line(points: list[tuple[str, float]], title: str, low: float = 0.0, high: float = 1.0) -> str:
    """A line over labelled points (e.g. one value per day), between low and high."""
    if not points:
        return ""
    left, width, height = 40, 520, 120
    span = (high - low) or 1.0
    step = width / max(len(points) - 1, 1)
    xy = [
        (left + i * step, 10 + height - (min(max(v, low), high) - low) / span * height)
        for i, (_, v) in enumerate(points)
    ]
    body = [
        f'<line x1="{left}" y1="{10 + height}" x2="{left + width}" y2="{10 + height}" '
        'stroke="#999"/>',
        f'<text x="2" y="{14 + height}" {_FONT}>{low:g}</text>',
        f'<text x="2" y="18" {_FONT}>{high:g}</text>',
        '<polyline fill="none" stroke="#2f6f4f" stroke-width="2" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        + '"/>',
    ]
    for (x, y), (label, value) in zip(xy, points, strict=True):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2f6f4f">'
            f"<title>{escape(label)}: {value:.4g}</title></circle>"
        )
    body.append(f'<text x="{left}" y="{height + 26}" {_FONT}>{escape(points[0][0])}</text>')
    body.append(
        f'<text x="{left + width}" y="{height + 26}" text-anchor="end" {_FONT}>'
        f"{escape(points[-1][0])}</text>"
    )
    return _svg(left + width + 10, height + 32, body, title)

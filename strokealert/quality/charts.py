"""Inline SVG charts for the dashboard and the HTML report (no JavaScript, no network).

Colours come from CSS variables so the charts follow the light/dark theme.
"""

from __future__ import annotations

from html import escape
from typing import Any

W, H = 560, 220
PAD_L, PAD_R, PAD_T, PAD_B = 40, 12, 14, 30


def _frame(body: str, title: str, width: int = W, height: int = H) -> str:
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(title)}</title>{body}</svg>")


def histogram(values: list[int], *, bin_min: int = 10, max_min: int = 120,
              marks: tuple[int, ...] = (30, 45, 60), title: str = "Distribution") -> str:
    """Bars of cases per ``bin_min`` minutes (last bin open-ended), with dashed target lines."""
    bins = [0] * (max_min // bin_min + 1)
    for v in values:
        bins[min(v // bin_min, len(bins) - 1)] += 1
    top = max(max(bins), 1)
    plot_w = W - PAD_L - PAD_R
    plot_h = H - PAD_T - PAD_B - 30  # a band on top for the target labels and counts
    bar_w = plot_w / len(bins)
    parts = [f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" '
             f'y2="{H - PAD_B}"/>']
    for i, count in enumerate(bins):
        h = plot_h * count / top
        x = PAD_L + i * bar_w
        parts.append(f'<rect class="bar" x="{x + 2:.1f}" y="{H - PAD_B - h:.1f}" '
                     f'width="{bar_w - 4:.1f}" height="{h:.1f}"><title>{count} case(s)</title>'
                     "</rect>")
        if count:
            parts.append(f'<text class="val" x="{x + bar_w / 2:.1f}" y="{H - PAD_B - h - 3:.1f}"'
                         f' text-anchor="middle">{count}</text>')
        label = f"{i * bin_min}+" if i == len(bins) - 1 else f"{i * bin_min}"
        parts.append(f'<text class="tick" x="{x:.1f}" y="{H - PAD_B + 14}">{label}</text>')
    for mark in marks:
        x = PAD_L + plot_w * mark / (bin_min * len(bins))
        parts.append(f'<line class="mark" x1="{x:.1f}" y1="{PAD_T + 4}" x2="{x:.1f}" '
                     f'y2="{H - PAD_B}"/><text class="marklabel" x="{x:.1f}" '
                     f'y="{PAD_T}" text-anchor="middle">≤ {mark}</text>')
    parts.append(f'<text class="tick" x="{W - PAD_R}" y="{H - 4}" text-anchor="end">minutes'
                 "</text>")
    return _frame("".join(parts), title)


def target_bars(targets: list[dict[str, Any]], title: str = "Targets") -> str:
    """Horizontal bars: actual share per target, with the required share as a tick."""
    row_h, label_w = 30, 300
    height = PAD_T + row_h * len(targets) + 8
    plot_w = W - label_w - 50
    parts = []
    for i, t in enumerate(targets):
        y = PAD_T + i * row_h
        actual = t.get("actual")
        status = "met" if t.get("met") else ("none" if actual is None else "missed")
        short = t["label"].split(" — ")[-1] if " — " in t["label"] else t["label"]
        parts.append(f'<text class="tlabel" x="0" y="{y + 15}">{escape(short)}</text>')
        parts.append(f'<rect class="track" x="{label_w}" y="{y + 4}" width="{plot_w}" '
                     'height="14" rx="3"/>')
        if actual is not None:
            parts.append(f'<rect class="fill {status}" x="{label_w}" y="{y + 4}" '
                         f'width="{plot_w * actual:.1f}" height="14" rx="3"/>')
        goal_x = label_w + plot_w * t["share"]
        parts.append(f'<line class="goal" x1="{goal_x:.1f}" y1="{y}" x2="{goal_x:.1f}" '
                     f'y2="{y + 22}"/>')
        text = "—" if actual is None else f"{actual * 100:.0f} %"
        parts.append(f'<text class="val {status}" x="{label_w + plot_w + 8}" y="{y + 15}">'
                     f"{text}</text>")
    return _frame("".join(parts), title, W, height)


def trend(rows: list[dict[str, Any]], title: str = "Monthly DTN median") -> str:
    """Monthly DTN median as bars with the share ≤ 60 min as a line (right axis, 0–100 %)."""
    rows = [r for r in rows if r["month"] != "UTD"][-12:]
    plot_w, plot_h = W - PAD_L - PAD_R - 30, H - PAD_T - PAD_B
    top = max([r["dtn_median"] or 0 for r in rows] + [60])
    n = max(len(rows), 1)
    step = plot_w / n
    parts = [f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{PAD_L + plot_w}" '
             f'y2="{H - PAD_B}"/>']
    y60 = H - PAD_B - plot_h * 60 / top
    parts.append(f'<line class="mark" x1="{PAD_L}" y1="{y60:.1f}" x2="{PAD_L + plot_w}" '
                 f'y2="{y60:.1f}"/><text class="marklabel" x="{PAD_L + 2}" y="{y60 - 3:.1f}">'
                 "60 min</text>")
    points = []
    for i, r in enumerate(rows):
        x = PAD_L + i * step
        if r["dtn_median"] is not None:
            h = plot_h * r["dtn_median"] / top
            bar_w = min(step - 8, 48)
            parts.append(f'<rect class="bar" x="{x + (step - bar_w) / 2:.1f}" '
                         f'y="{H - PAD_B - h:.1f}" '
                         f'width="{bar_w:.1f}" height="{h:.1f}"><title>{r["month"]}: median '
                         f'{r["dtn_median"]:g} min, n={r["dtn_n"]}</title></rect>')
        if r["dtn_le_60"] is not None:
            points.append(f"{x + step / 2:.1f},{H - PAD_B - plot_h * r['dtn_le_60']:.1f}")
        parts.append(f'<text class="tick" x="{x + step / 2:.1f}" y="{H - PAD_B + 14}" '
                     f'text-anchor="middle">{r["month"][2:]}</text>')
    if points:
        parts.append(f'<polyline class="line" points="{" ".join(points)}"/>')
        for p in points:
            cx, cy = p.split(",")
            parts.append(f'<circle class="dot" cx="{cx}" cy="{cy}" r="3"/>')
    parts.append(f'<text class="tick" x="{W - 4}" y="{PAD_T + 8}" text-anchor="end">'
                 "● ≤60 %</text>")
    return _frame("".join(parts), title)


def curve(t_s: list[float], series: dict[str, list[float]], title: str = "AIF / VOF") -> str:
    """Time–attenuation curves (HU over seconds), one polyline per named series."""
    if not t_s:
        return ""
    ymax = max((max(v) for v in series.values() if v), default=1.0) or 1.0
    tmax = max(t_s) or 1.0
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    parts = [f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" '
             f'y2="{H - PAD_B}"/>']
    for k, (name, values) in enumerate(series.items()):
        pts = " ".join(f"{PAD_L + plot_w * t / tmax:.1f},{H - PAD_B - plot_h * v / ymax:.1f}"
                       for t, v in zip(t_s, values, strict=False))
        parts.append(f'<polyline class="line s{k}" points="{pts}"/>'
                     f'<text class="tick s{k}" x="{W - PAD_R - 60}" y="{PAD_T + 12 + 14 * k}">'
                     f"{escape(name)}</text>")
    parts.append(f'<text class="tick" x="{W - PAD_R}" y="{H - 4}" text-anchor="end">'
                 f"{tmax:.0f} s</text><text class=\"tick\" x=\"2\" y=\"{PAD_T + 8}\">"
                 f"{ymax:.0f} HU</text>")
    return _frame("".join(parts), title)

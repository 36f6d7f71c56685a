"""Presentation helpers of the staff UI's dashboard chart (geometry only, no queries)."""

from __future__ import annotations

from typing import Any

from invoicing.selectors import CurrencyBars


def chart_svg_bars(
    bars: CurrencyBars, *, width: int = 600, height: int = 160
) -> list[dict[str, Any]]:
    """Bar geometry for the inline SVG chart of one currency (12 bars, scaled to the max)."""
    n = len(bars.months)
    slot = width / n
    bar_w = slot * 0.64
    top, bottom = 18, height - 22
    span = bottom - top
    out = []
    for i, (month, amount) in enumerate(bars.months):
        h = float(amount / bars.maximum) * span if bars.maximum > 0 and amount > 0 else 0.0
        x = i * slot + (slot - bar_w) / 2
        out.append(
            {
                "month": month,
                "amount": amount,
                "x": round(x, 1),
                "y": round(bottom - h, 1),
                "w": round(bar_w, 1),
                "h": round(h, 1),
                "cx": round(i * slot + slot / 2, 1),
                "label_y": bottom + 15,
                "value_y": round(bottom - h - 4, 1),
            }
        )
    return out

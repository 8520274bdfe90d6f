"""The summary as a chart to paste into a report (SVG): complaints per ISO week by category, and on-time rates.

Drawn with matplotlib (imported on first use: it takes most of a second and the service does not need it to
start). Text stays text (``svg.fonttype = none``), so the labels are searchable and Chinese is drawn with the
viewer's fonts. Each bar carries an id (``bar-<week>-<category>``, ``rate-<clock>``) to find it by.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from typing import TYPE_CHECKING, Any

from app.complaints.models import Category
from app.reports.schemas import ClockFigures, Period, Weeks
from app.vocabulary import ClockKind

if TYPE_CHECKING:  # matplotlib is imported on first use only
    from matplotlib.typing import RcKeyType

CATEGORY_LABELS = {
    Category.service_attitude: "服务态度",
    Category.service_quality: "服务质量",
    Category.product_quality: "商品质量",
    Category.billing: "收费结算",
    Category.facilities: "设施环境",
    Category.delivery: "送货安装",
    Category.incident: "突发事件",
    Category.other: "其他",
}
CLOCK_LABELS = {
    ClockKind.store_feedback: "单位反馈",
    ClockKind.written_reply: "书面答复",
    ClockKind.follow_up: "回访",
    ClockKind.fulfilment: "落实",
    ClockKind.incident_report: "书面报告",
}
WEEKLY_TITLE = "每周投诉量（按类别）"
RATES_TITLE = "各时限按时率"
NO_COMPLAINTS = "本期无投诉"
NO_CLOCKS = "无数据"

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "tousu",  # the same figures give the same file
    "font.family": "sans-serif",
    "font.sans-serif": ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "DejaVu Sans"],
    "font.size": 9,
}
# rcParams are global: one drawing at a time per process.
_drawing = threading.Lock()


def render_svg(period: Period, clocks: dict[ClockKind, ClockFigures], weeks: Weeks) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    with _drawing, matplotlib.rc_context(STYLE), warnings.catch_warnings():
        # Layout measures text with whatever font is installed; CJK glyphs it lacks are the viewer's business.
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
        # Fixed margins, not the constrained layout: that one measures every label again and tripled the time.
        figure = Figure(figsize=(11, 4.5))
        figure.subplots_adjust(left=0.06, right=0.98, top=0.86, bottom=0.34, wspace=0.3)
        weekly_axes, rate_axes = figure.subplots(1, 2, width_ratios=[3, 1])
        received = sum(sum(counts.values()) for _, counts in weeks)
        figure.suptitle(f"投诉汇总分析 {period.from_:%Y-%m-%d} 至 {period.to:%Y-%m-%d}（{received} 件）")
        _weekly(weekly_axes, weeks)
        _rates(rate_axes, clocks)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _weekly(axes: Any, weeks: Weeks) -> None:
    axes.set_title(WEEKLY_TITLE)
    axes.set_ylabel("投诉件数")
    labels = [label for label, _ in weeks]
    crowded = len(labels) > 8
    axes.set_xticks(range(len(labels)), labels, rotation=45 if crowded else 0, ha="right" if crowded else "center")
    bottoms = [0] * len(weeks)
    for category in Category:
        cells = [(i, counts[category]) for i, (_, counts) in enumerate(weeks) if counts.get(category)]
        if not cells:
            continue
        xs, heights = zip(*cells, strict=True)
        bars = axes.bar(xs, heights, bottom=[bottoms[i] for i in xs], label=CATEGORY_LABELS[category], width=0.7)
        for (i, height), bar in zip(cells, bars, strict=True):
            bar.set_gid(f"bar-{labels[i]}-{category}")
            bottoms[i] += height
    if any(bottoms):
        below = -0.3 if crowded else -0.1  # under the tick labels, turned or not
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, below), ncols=4, fontsize=8, frameon=False)
        axes.yaxis.get_major_locator().set_params(integer=True)
    else:
        axes.text(0.5, 0.5, NO_COMPLAINTS, transform=axes.transAxes, ha="center", va="center")


def _rates(axes: Any, clocks: dict[ClockKind, ClockFigures]) -> None:
    axes.set_title(RATES_TITLE)
    kinds = list(ClockKind)
    axes.set_yticks(range(len(kinds)), [CLOCK_LABELS[kind] for kind in kinds])
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("按时率 %")
    for i, kind in enumerate(kinds):
        figures = clocks[kind]
        if figures.on_time_rate is None:
            axes.text(2, i, NO_CLOCKS, va="center")
            continue
        (bar,) = axes.barh([i], [figures.on_time_rate * 100], height=0.6, color="#4c72b0")
        bar.set_gid(f"rate-{kind}")
        judged = figures.met + figures.breached
        inside = figures.on_time_rate >= 0.5
        axes.text(
            2 if inside else figures.on_time_rate * 100 + 2,
            i,
            f"{figures.on_time_rate:.0%}（{figures.met}/{judged}）",
            va="center",
            color="white" if inside else "black",
        )

"""The report's plots: matplotlib figures rendered to inline PNG data URIs.

matplotlib's object API only (``Figure`` + the Agg canvas): no ``pyplot``, so no global figure
state and no GUI backend, whatever ``MPLBACKEND`` says. Figures are sized for a phone: 6 inches
wide with 12-point text, so that an image shrunk to a phone's width still has legible labels
(the page caps its display width on larger screens).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Foot colours (blue / orange: told apart with the common colour-vision deficiencies too).
LEFT_COLOUR: Final = "#1f5f99"
RIGHT_COLOUR: Final = "#d95f02"
MAIN_COLOUR: Final = "#1d2327"
#: Background of the parts of a run that were not running, of missing data, and of a pause
#: (the recording was paused: nothing lost, so a calm blue rather than the pink of lost data).
NOT_RUNNING_COLOUR: Final = "#e4e7ea"
GAP_COLOUR: Final = "#f4c7c3"
PAUSED_COLOUR: Final = "#d3e4f2"
ACTIVITY_COLOURS: Final = {"run": "#2e7d32", "walk": "#8fbf6f", "stand": "#b0b8c0",
                           "other": "#d8b365", "gap": "#d9534f", "paused": "#6fa8dc"}
#: What the activity timeline's legend calls each activity.
ACTIVITY_NAMES: Final = {"run": "running", "walk": "walking", "stand": "standing",
                         "other": "other", "gap": "no data", "paused": "paused"}
_BAND_COLOURS: Final = {"gap": GAP_COLOUR, "paused": PAUSED_COLOUR}

_WIDTH_IN: Final = 5.0
_DPI: Final = 150
_STYLE: Final[dict[str, Any]] = {
    "font.size": 13, "axes.titlesize": 13, "axes.labelsize": 13, "xtick.labelsize": 12,
    "ytick.labelsize": 12, "legend.fontsize": 12, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": "#dde2e6",
    "grid.linewidth": 0.8, "font.family": "DejaVu Sans", "svg.fonttype": "none",
}


def MaxNLocator(integer: bool) -> Any:  # noqa: N802 - matplotlib's name, imported on use
    from matplotlib.ticker import MaxNLocator as _Max

    return _Max(integer=integer)


@contextmanager
def style() -> Iterator[None]:
    """The report's look (fonts, grid) for drawing a figure and rendering it."""
    import matplotlib

    with matplotlib.rc_context(dict(_STYLE)):  # type: ignore[arg-type]
        yield


def _figure(height_in: float, ncols: int = 1, nrows: int = 1, *, left_in: float = 0.85,
            bottom_in: float = 0.6, top_in: float = 0.12, right_in: float = 0.12,
            **grid: float) -> tuple[Any, Any]:
    """A figure with fixed margins, in inches (a layout engine costs ~40 % of the drawing)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH_IN, height_in), dpi=_DPI)
    fig.subplots_adjust(left=left_in / _WIDTH_IN, right=1.0 - right_in / _WIDTH_IN,
                        bottom=bottom_in / height_in, top=1.0 - top_in / height_in, **grid)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def png_data_uri(fig: Any) -> str:
    """Render ``fig`` (Agg) to a ``data:image/png;base64,...`` URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Layer:
    """One quantity over the run: a dot per step and a line through the per-minute medians."""

    label: str
    step_t_min: FloatArray
    step_values: FloatArray
    line_t_min: FloatArray
    line_values: FloatArray
    colour: str = MAIN_COLOUR


@dataclass(frozen=True)
class Band:
    """A stretch of the run drawn behind the data.

    ``kind``: ``"not_running"``, ``"gap"`` (no data) or ``"paused"`` (the recording was paused).
    """

    start_min: float
    end_min: float
    kind: str


#: Colour of a baseline line drawn for the whole run (one line, not per foot).
REFERENCE_COLOUR: Final = "#6b4fa0"


@dataclass(frozen=True)
class Reference:
    """A horizontal dashed line: the runner's baseline of one quantity (NaN: none, not drawn)."""

    value: float
    label: str = ""
    colour: str = REFERENCE_COLOUR


#: A recording shorter than this is drawn in seconds: minutes would tick at 0.00, 0.06, ...
SHORT_SPAN_MIN: Final = 3.0


def time_axis(span_min: float) -> tuple[float, str]:
    """How to draw a time axis ``span_min`` minutes long: (factor from minutes, axis label)."""
    if math.isfinite(span_min) and span_min < SHORT_SPAN_MIN:
        return 60.0, "seconds since the start"
    return 1.0, "minutes since the start"


def over_run(layers: Sequence[Layer], bands: Sequence[Band], ylabel: str, *,
             reference: float | None = None, reference_label: str = "",
             references: Sequence[Reference] = (),
             span_min: tuple[float, float] | None = None) -> str:
    """Values over the run, minutes on x; bands for what was not running and for missing data.

    ``reference`` (with ``reference_label``) draws one baseline line; ``references`` draws
    several, e.g. one per stance side in that side's colour. Each is dashed. ``span_min`` is
    the recording's start and end: the x axis shows exactly that (a short recording in
    seconds, see :func:`time_axis`).
    """
    with style():
        return png_data_uri(over_run_figure(layers, bands, ylabel, reference=reference,
                                            reference_label=reference_label,
                                            references=references, span_min=span_min))


def over_run_figure(layers: Sequence[Layer], bands: Sequence[Band], ylabel: str, *,
                    reference: float | None = None, reference_label: str = "",
                    references: Sequence[Reference] = (),
                    span_min: tuple[float, float] | None = None) -> Any:
    """The figure of :func:`over_run` (draw and render it within :func:`style`)."""
    refs = [*([Reference(reference, reference_label)] if reference is not None else []),
            *references]
    refs = [r for r in refs if math.isfinite(r.value)]
    n_legend = (len(layers) if len(layers) > 1 else 0) + sum(1 for r in refs if r.label)
    ncols = 3 if n_legend <= 3 else 2  # four entries: two rows of two, not 3 + 1
    legend_rows = math.ceil(n_legend / ncols)
    # right: room for half of the last tick's label, centred on the axis' end ("150" min of a
    # long run, "120" s of a short one): 0.12 in cut its last digit off
    fig, axes = _figure(2.6 + 0.3 * max(0, legend_rows - 1), top_in=0.12 + 0.3 * legend_rows,
                        right_in=0.3)
    ax = axes[0, 0]
    if span_min is None:
        ts = [t[np.isfinite(t)] for ly in layers for t in (ly.step_t_min, ly.line_t_min)]
        ts += [np.array([b.start_min, b.end_min]) for b in bands]
        allt = np.concatenate(ts) if ts else np.zeros(0)
        span_min = (float(allt.min()), float(allt.max())) if allt.size else (0.0, 1.0)
    k, xlabel = time_axis(span_min[1] - span_min[0])
    for b in bands:
        ax.axvspan(k * b.start_min, k * b.end_min,
                   color=_BAND_COLOURS.get(b.kind, NOT_RUNNING_COLOUR), lw=0, zorder=0)
    finite = [ly.step_values[np.isfinite(ly.step_values)] for ly in layers]
    n_dots = sum(f.size for f in finite)
    # a few dots must be seen; thousands must not hide the line
    ms, alpha = (2.0, 0.22) if n_dots > 600 else (3.0, 0.45) if n_dots > 150 else (4.0, 0.7)
    for ly in layers:
        ok = np.isfinite(ly.step_values) & np.isfinite(ly.step_t_min)
        ax.plot(k * ly.step_t_min[ok], ly.step_values[ok], ".", ms=ms, alpha=alpha,
                color=ly.colour, zorder=2, rasterized=True)
        ax.plot(k * ly.line_t_min, ly.line_values, "-", lw=2.2, color=ly.colour, zorder=3,
                label=ly.label if len(layers) > 1 else None)
        alone = _isolated(ly.line_t_min, ly.line_values)  # a line needs two points
        ax.plot(k * ly.line_t_min[alone], ly.line_values[alone], "o", ms=6, color=ly.colour,
                zorder=3)
    for r in refs:
        ax.axhline(r.value, ls="--", lw=1.4, color=r.colour, zorder=3, label=r.label or None)
    values = np.concatenate(finite) if finite else np.zeros(0)
    if values.size:  # robust limits: a few wild steps must not flatten the picture
        lo, hi = np.percentile(values, [1, 99])
        for r in refs:
            lo, hi = min(lo, r.value), max(hi, r.value)
        pad = max(0.12 * (hi - lo), 1e-3 * max(abs(hi), 1.0))
        ax.set_ylim(lo - pad, hi + pad)
    if span_min[1] > span_min[0]:
        ax.set_xlim(k * span_min[0], k * span_min[1])
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if n_legend:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=ncols, frameon=False,
                  borderaxespad=0.1)
    return fig


def _isolated(t: FloatArray, v: FloatArray) -> npt.NDArray[np.bool_]:
    """Points of a line with no finite neighbour: drawn as a line they would not show."""
    ok = np.isfinite(t) & np.isfinite(v)
    prev = np.concatenate(([False], ok[:-1]))
    nxt = np.concatenate((ok[1:], [False]))
    return ok & ~prev & ~nxt


def activity_timeline(start_min: Sequence[float], end_min: Sequence[float],
                      labels: Sequence[str]) -> str:
    """The recording as one bar coloured by activity (running, walking, ..., gap, paused).

    The legend names only the activities the recording has (:data:`ACTIVITY_NAMES`).
    """
    with style():
        return png_data_uri(activity_figure(start_min, end_min, labels))


def activity_figure(start_min: Sequence[float], end_min: Sequence[float],
                    labels: Sequence[str]) -> Any:
    """The figure of :func:`activity_timeline` (draw and render it within :func:`style`)."""
    present = [k for k in ACTIVITY_COLOURS if k in set(labels)]
    # five entries do not fit on one row of a figure a phone wide: three to a row
    ncols = len(present) if len(present) <= 4 else 3
    rows = max(1, math.ceil(len(present) / max(ncols, 1)))
    fig, axes = _figure(1.6 + 0.32 * (rows - 1), left_in=0.25, right_in=0.25,
                        top_in=0.5 + 0.32 * (rows - 1))
    ax = axes[0, 0]
    span = (min(start_min), max(end_min)) if end_min else (0.0, 1.0)
    k, xlabel = time_axis(span[1] - span[0])
    for a, b, lab in zip(start_min, end_min, labels, strict=True):
        ax.barh(0, k * (b - a), left=k * a, height=0.8, color=ACTIVITY_COLOURS.get(lab, "#999"),
                lw=0)
    from matplotlib.patches import Patch

    if present:
        ax.legend(handles=[Patch(color=ACTIVITY_COLOURS[c], label=ACTIVITY_NAMES[c])
                           for c in present], loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=ncols, frameon=False,
                  handlelength=1.0, columnspacing=0.9, borderaxespad=0.1)
    ax.set_yticks([])
    ax.grid(False)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if end_min:
        ax.set_xlim(k * span[0], k * span[1])
    return fig


def left_right(items: Sequence[tuple[str, float, float, str]]) -> str:
    """Left vs right medians, one small panel per metric: ``(label, left, right, unit)``."""
    n = len(items)
    ncols = 2
    nrows = max(1, math.ceil(n / ncols))
    with style():
        fig, axes = _figure(1.9 * nrows, ncols=ncols, nrows=nrows, left_in=0.7, bottom_in=0.35,
                            top_in=0.35, wspace=0.45, hspace=0.8)
        for k in range(nrows * ncols):
            ax = axes[k // ncols, k % ncols]
            if k >= n:
                ax.set_visible(False)
                continue
            label, left, right, unit = items[k]
            vals = [left if math.isfinite(left) else 0.0, right if math.isfinite(right) else 0.0]
            ax.barh([1, 0], vals, color=[LEFT_COLOUR, RIGHT_COLOUR], height=0.7)
            ax.set_yticks([1, 0], ["left", "right"])
            ax.set_title(f"{label} ({unit})", loc="left")
            top = max(vals) if max(vals) > 0 else 1.0
            ax.set_xlim(0, top * 1.32)
            for y, v, raw in ((1, vals[0], left), (0, vals[1], right)):
                ax.text(v + top * 0.02, y, _short(raw), va="center", fontsize=12)
            ax.grid(axis="y", visible=False)
        return png_data_uri(fig)


def _short(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 1 else f"{x:.2f}"


@dataclass(frozen=True)
class BandSeries:
    """One quantity per pace band: medians with their quartiles (NaN: not measured)."""

    label: str
    median: FloatArray
    p25: FloatArray
    p75: FloatArray
    colour: str = MAIN_COLOUR


@dataclass(frozen=True)
class BandPanel:
    title: str
    unit: str
    series: tuple[BandSeries, ...]


def by_pace(band_labels: Sequence[str], panels: Sequence[BandPanel]) -> str:
    """Small multiples of metrics per pace band, slowest on the left.

    One panel per metric: its median per band, the bar spanning the middle half of the steps.
    Two columns; tick labels thinned so they stay legible at a phone's width.
    """
    n = len(panels)
    ncols = 2
    nrows = max(1, math.ceil(n / ncols))
    k = len(band_labels)
    x = np.arange(k, dtype=np.float64)
    every = max(1, math.ceil(k / 4))  # at most 4 labels on a panel half a phone wide
    with style():
        fig, axes = _figure(2.05 * nrows + 0.35, ncols=ncols, nrows=nrows, left_in=0.62,
                            bottom_in=0.75, top_in=0.4, right_in=0.1, wspace=0.42, hspace=0.75)
        for j in range(nrows * ncols):
            ax = axes[j // ncols, j % ncols]
            if j >= n:
                ax.set_visible(False)
                continue
            p = panels[j]
            offsets = np.linspace(-0.12, 0.12, len(p.series)) if len(p.series) > 1 else [0.0]
            for s, dx in zip(p.series, offsets, strict=True):
                ok = np.isfinite(s.median)
                lo = np.where(ok, s.median - s.p25, 0.0)
                hi = np.where(ok, s.p75 - s.median, 0.0)
                ax.errorbar(x[ok] + dx, s.median[ok], yerr=[lo[ok], hi[ok]], fmt="-o", ms=5,
                            lw=1.8, elinewidth=1.2, capsize=2.5, color=s.colour,
                            label=s.label if len(p.series) > 1 else None)
            ax.set_title(f"{p.title} ({p.unit})", loc="left")
            ax.set_xlim(-0.5, k - 0.5)
            ax.set_xticks(x[::every], [band_labels[i] for i in range(0, k, every)])
            ax.grid(axis="x", visible=False)
            if len(p.series) > 1:  # room above the data for the legend
                lo, hi = ax.get_ylim()
                ax.set_ylim(lo, hi + 0.6 * (hi - lo))
                ax.legend(loc="upper center", ncols=len(p.series), frameon=False, fontsize=10,
                          handlelength=1.0, columnspacing=0.8, borderaxespad=0.1)
        fig.supxlabel("pace band, min/km (slower ← → faster)", fontsize=12, y=0.01)
        return png_data_uri(fig)

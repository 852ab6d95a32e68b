"""The run report: one self-contained ``report.html`` per run folder.

``write_report(run_dir)`` reads what the trainer wrote — ``config.toml``,
``metrics.jsonl`` (records and events), ``samples/step_XXXXXXX.png``, ``samples.png``
and ``checkpoints/best.json`` — and writes ``run_dir/report.html``: the configuration,
the sample grids over time behind a slider, SVG curves of the losses, D's outputs and
accuracies, gradient norms, throughput, ADA's augmentation strength and any evaluation
metrics, the guard's events (rollbacks, skipped updates, skipped files) as markers on
the curves and as a table, and the final numbers and timing.

The page opens from disk with no network: CSS and a few lines of vanilla JS are inline,
the charts are SVG drawn here in Python, and the images are base64 ``data:`` URIs (at
most ``max_images`` grids, evenly spaced, downscaled losslessly when the trainer had
upscaled them). Writing is atomic (temp file + ``os.replace``), so a browser or a
concurrent ``ganforge report`` never sees half a page. Rendering a typical run takes
well under a second, and repeated calls in one process reuse the encoded images.

The layout follows what TensorBoard's scalar dashboard and the stylegan2-ada training
logs show, in one static file (as ``nanoGPT``'s plots or W&B's exported reports do).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.training.callbacks import Callback, RunView

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

#: Name of the report inside the run folder.
REPORT_NAME = "report.html"

#: Sample images wider than this are downscaled (by an integer factor, nearest) before
#: embedding: the trainer upscales small grids by an integer factor for viewing, so
#: this removes duplicated pixels without losing any.
MAX_EMBED_WIDTH = 520

#: Curves with more points than this are thinned (evenly) before drawing.
MAX_POINTS = 1500

#: At most this many event rows in the table (the markers still show every event).
MAX_EVENT_ROWS = 300

_PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"]

_STEP_RE = re.compile(r"step_(\d+)\.png$")


# --------------------------------------------------------------------------- reading


@dataclass
class RunData:
    """Everything the report shows, read from one run folder."""

    run_dir: Path
    config_text: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    samples: list[tuple[int, Path]] = field(default_factory=list)
    final_sample: Path | None = None
    best: dict[str, Any] | None = None
    bad_lines: int = 0


def read_metrics(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Split ``metrics.jsonl`` into (records, events, number of unreadable lines).

    A line cut short by a crash mid-write, or any line that is not a JSON object with a
    ``step``, is counted and skipped rather than failing the report.
    """
    records: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    bad = 0
    if not path.exists():
        return records, events, bad
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("step"), int):
                bad += 1
                continue
            (events if "event" in obj else records).append(obj)
    return records, events, bad


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder (any part may be missing: a run that has just started has no
    metrics yet)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    run = RunData(run_dir=run_dir)
    cfg_path = run_dir / "config.toml"
    if cfg_path.exists():
        run.config_text = cfg_path.read_text(encoding="utf-8")
        try:
            run.config = tomllib.loads(run.config_text)
        except tomllib.TOMLDecodeError:
            run.config = {}
    run.records, run.events, run.bad_lines = read_metrics(run_dir / "metrics.jsonl")
    sample_dir = run_dir / "samples"
    if sample_dir.is_dir():
        for p in sample_dir.glob("step_*.png"):
            m = _STEP_RE.search(p.name)
            if m:
                run.samples.append((int(m.group(1)), p))
        run.samples.sort()
    if (run_dir / "samples.png").exists():
        run.final_sample = run_dir / "samples.png"
    best = run_dir / "checkpoints" / "best.json"
    if best.exists():
        try:
            run.best = json.loads(best.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, OSError):
            run.best = None
    return run


def evenly_spaced(n: int, k: int) -> list[int]:
    """``min(n, k)`` indices into ``range(n)``, evenly spaced, always keeping the first
    and the last."""
    if n <= k:
        return list(range(n))
    if k <= 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


# --------------------------------------------------------------------------- images

# (path, mtime_ns, size) -> data URI. The trainer rebuilds the report at every sample
# interval; re-encoding only the new grids keeps that cheap.
_URI_CACHE: OrderedDict[tuple[str, int, int], str] = OrderedDict()
_URI_CACHE_MAX = 512


def nearest_upscale_factor(arr: Any, candidates: tuple[int, ...] = (8, 6, 4, 3, 2)) -> int:
    """The largest ``s`` such that the (H, W[, C]) array is an ``s``-fold nearest-neighbour
    upscale of a smaller image (1 when it is not): ``save_grid`` enlarges small grids
    this way, and undoing it shrinks the embedded PNG about ``s**2``-fold for free (the
    page draws it back at size with ``image-rendering: pixelated``)."""
    h, w = arr.shape[:2]
    for s in candidates:
        if h % s or w % s:
            continue
        small = arr[::s, ::s]
        if (small.repeat(s, axis=0).repeat(s, axis=1) == arr).all():
            return s
    return 1


def image_data_uri(path: Path, max_width: int = MAX_EMBED_WIDTH) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI, downscaled by the smallest
    integer factor that brings it to ``max_width`` pixels or less."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    hit = _URI_CACHE.get(key)
    if hit is not None:
        _URI_CACHE.move_to_end(key)
        return hit
    data = path.read_bytes()
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        s = nearest_upscale_factor(np.asarray(im))
        f = s * max(1, math.ceil(w / s / max_width))
        if f > 1:
            small = im.resize((max(1, w // f), max(1, h // f)), Image.NEAREST)
            buf = io.BytesIO()
            small.save(buf, format="PNG")
            data = buf.getvalue()
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    _URI_CACHE[key] = uri
    while len(_URI_CACHE) > _URI_CACHE_MAX:
        _URI_CACHE.popitem(last=False)
    return uri


# --------------------------------------------------------------------------- numbers


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt(v: Any) -> str:
    """Compact human number: 3 significant digits, k/M suffixes, '-' for missing."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if not isinstance(v, float):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 100:
        return f"{v:.0f}"
    if a == 0:
        return "0"
    if a < 1e-3:
        return f"{v:.2e}"
    return f"{v:.3g}"


def fmt_duration(seconds: float) -> str:
    """``3h 05m``, ``4m 10s`` or ``12.3 s``."""
    if not math.isfinite(seconds):
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def estimate_wall_time(records: list[dict[str, Any]], batch_size: int) -> float:
    """Training time from the log: each record covers ``step - previous step`` steps of
    ``batch_size`` images at its ``images_per_s`` (the trainer's own timing, so time
    spent writing samples and checkpoints is included only as it slowed the steps)."""
    total, prev = 0.0, 0
    for r in records:
        ips = r.get("images_per_s")
        step = r["step"]
        if _finite(ips) and ips > 0 and step > prev:
            total += batch_size * (step - prev) / ips
        prev = step
    return total


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (1, 2, 2.5, 5 x 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10)), key=lambda st: abs(math.log(st / raw)))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def tick_label(t: float, step: float) -> str:
    """Axis label for tick ``t`` with just enough decimals to tell ticks ``step`` apart."""
    if step <= 0 or abs(t) >= 1e4 or (t != 0 and abs(t) < 1e-3):
        return fmt(float(t))
    decimals = min(6, max(0, -math.floor(math.log10(step) + 1e-9)))
    if round(step * 10**decimals, 6) % 1:  # 2.5, 0.25 ...
        decimals += 1
    return f"{t:.{decimals}f}"


def _thin(xs: list[float], ys: list[float], k: int = MAX_POINTS) -> tuple[list, list]:
    if len(xs) <= k:
        return xs, ys
    idx = evenly_spaced(len(xs), k)
    return [xs[i] for i in idx], [ys[i] for i in idx]


# --------------------------------------------------------------------------- charts


@dataclass
class Series:
    name: str
    xs: list[float]
    ys: list[float]  # may contain NaN/Inf: drawn as gaps and counted


@dataclass
class Chart:
    title: str
    series: list[Series]
    log_y: bool = False
    note: str = ""


def svg_chart(
    chart: Chart,
    markers: list[tuple[float, str, str]],
    *,
    x_max: float | None = None,
    width: int = 560,
    height: int = 250,
) -> str:
    """One chart as inline SVG plus an HTML legend.

    Args:
        chart: the series to draw (x = step).
        markers: (step, css class, label) vertical event markers.
        x_max: right end of the x axis (the run's last step), so charts line up.

    Returns:
        HTML: a ``figure`` with the legend, the ``svg`` and a JSON blob the hover script
        reads (steps and values of every series).
    """
    ml, mr, mt, mb = 58, 14, 10, 30
    pw, ph = width - ml - mr, height - mt - mb
    xs_all = [x for s in chart.series for x in s.xs]
    ys_all = [y for s in chart.series for y in s.ys if _finite(y) and (y > 0 or not chart.log_y)]
    if not xs_all or not ys_all:
        return ""
    x0 = min(0.0, min(xs_all))
    x1 = max(max(xs_all), x_max or 0.0)
    if x1 <= x0:
        x1 = x0 + 1

    def ty(y: float) -> float:
        return math.log10(y) if chart.log_y else y

    y0, y1 = min(ty(y) for y in ys_all), max(ty(y) for y in ys_all)
    if y1 - y0 < 1e-9 * max(1.0, abs(y0)):  # one value (or a flat line): centre it
        half = 0.5 if chart.log_y else max(abs(y0) * 0.1, 0.5)
        y0, y1 = y0 - half, y1 + half
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return ml + (x - x0) / (x1 - x0) * pw

    def py_t(t: float) -> float:  # t in plotted (log10 when log_y) space
        return mt + (1 - (t - y0) / (y1 - y0)) * ph

    def py(y: float) -> float:
        return py_t(ty(y))

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(chart.title)}" preserveAspectRatio="xMidYMid meet">'
    ]
    # grid and axes
    # tick positions in the plotted space
    if chart.log_y:
        yt = [float(e) for e in range(math.floor(y0), math.ceil(y1) + 1) if y0 <= e <= y1]
        if len(yt) < 2:
            yt = nice_ticks(y0, y1, 4)
    else:
        yt = nice_ticks(y0, y1, 5)
    y_step = yt[1] - yt[0] if len(yt) > 1 and not chart.log_y else 0.0
    for t in yt:
        y = py_t(t)
        out.append(f'<line class="grid" x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}"/>')
        label = tick_label(10**t if chart.log_y else t, y_step)
        out.append(
            f'<text class="tick" x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    for t in nice_ticks(x0, x1, 6):
        x = px(t)
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" y2="{mt + ph}"/>')
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{mt + ph + 18}" text-anchor="middle">'
            f"{fmt(int(t) if float(t).is_integer() else t)}</text>"
        )
    out.append(f'<rect class="frame" x="{ml}" y="{mt}" width="{pw}" height="{ph}"/>')
    # event markers under the curves
    for step, cls, label in markers:
        if x0 <= step <= x1:
            x = px(step)
            out.append(
                f'<line class="marker {cls}" x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" '
                f'y2="{mt + ph}"><title>{html.escape(label)}</title></line>'
            )
    legend = []
    blob: dict[str, Any] = {"x0": x0, "x1": x1, "ml": ml, "pw": pw, "series": []}
    for i, s in enumerate(chart.series):
        color = _PALETTE[i % len(_PALETTE)]
        xs, ys = _thin(s.xs, s.ys)
        bad = sum(1 for y in s.ys if not _finite(y))
        segs: list[list[str]] = [[]]
        for x, y in zip(xs, ys, strict=True):
            if _finite(y) and (y > 0 or not chart.log_y):
                segs[-1].append(f"{px(x):.1f},{py(y):.1f}")
            elif segs[-1]:
                segs.append([])
        for seg in segs:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            elif seg:
                out.append(f'<path class="line" stroke="{color}" d="M{" L".join(seg)}"/>')
        if len(xs) <= 30:  # sparse series (evaluations): show where the measurements are
            out.extend(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>'
                for x, y in zip(xs, ys, strict=True)
                if _finite(y) and (y > 0 or not chart.log_y)
            )
        extra = f' <span class="bad">({bad} non-finite)</span>' if bad else ""
        legend.append(
            f'<span class="key"><i style="background:{color}"></i>'
            f"{html.escape(s.name)}{extra}</span>"
        )
        blob["series"].append(
            {
                "name": s.name,
                "color": color,
                "x": xs,
                "y": [y if _finite(y) else None for y in ys],
            }
        )
    out.append(f'<line class="cursor" x1="0" x2="0" y1="{mt}" y2="{mt + ph}" visibility="hidden"/>')
    out.append("</svg>")
    note = f'<div class="note">{html.escape(chart.note)}</div>' if chart.note else ""
    scale = ' <span class="scale">log scale</span>' if chart.log_y else ""
    data = html.escape(json.dumps(blob, separators=(",", ":"), allow_nan=False))
    return (
        f'<figure class="card chart-card"><figcaption><b>{html.escape(chart.title)}</b>'
        f'{scale}<span class="legend">{"".join(legend)}</span></figcaption>'
        f'<div class="plot" data-chart="{data}">{"".join(out)}'
        f'<div class="tip" hidden></div></div>{note}</figure>'
    )


def _series(records: list[dict[str, Any]], key: str, label: str | None = None) -> Series:
    pts = [(r["step"], r[key]) for r in records if key in r and isinstance(r[key], (int, float))]
    return Series(label or key, [float(p[0]) for p in pts], [float(p[1]) for p in pts])


def build_charts(run: RunData) -> list[Chart]:
    """The charts a run's log supports, in reading order; keys nobody planned for (a new
    step function's ``loss_info``, say) still get drawn."""
    recs = run.records
    keys: list[str] = []
    for r in recs:
        for k, v in r.items():
            if k not in keys and k != "step" and isinstance(v, (int, float)):
                keys.append(k)
    used: set[str] = set()
    charts: list[Chart] = []

    def add(title: str, ks: list[str], labels: dict[str, str] | None = None, **kw: Any) -> None:
        ks = [k for k in ks if k in keys]
        if not ks:
            return
        used.update(ks)
        labels = labels or {}
        charts.append(Chart(title, [_series(recs, k, labels.get(k)) for k in ks], **kw))

    add("Losses", [k for k in keys if k.startswith("loss")])
    add(
        "D outputs",
        ["d_real", "d_fake"],
        {"d_real": "D(x)", "d_fake": "D(G(z))"},
        note="Mean D output on real and generated batches.",
    )
    add(
        "D accuracy",
        ["d_acc_real", "d_acc_fake"],
        {"d_acc_real": "on real", "d_acc_fake": "on fake"},
    )
    gn = [k for k in keys if k.startswith("grad_norm")]
    gvals = [v for k in gn for v in _series(recs, k).ys if _finite(v) and v > 0]
    log_g = bool(gvals) and max(gvals) / max(min(gvals), 1e-12) > 100
    add("Gradient norms", gn, log_y=log_g, note="Global L2 norm before clipping.")
    add("Throughput (images/s)", ["images_per_s"], {"images_per_s": "images/s"})
    add(
        "Adaptive augmentation",
        [k for k in keys if k.startswith("ada_")],
        {"ada_p": "p (strength)", "ada_rt": "r_t (overfitting)"},
    )
    if any(r.get("skipped_updates", 0) for r in recs):
        add("Skipped updates (cumulative)", ["skipped_updates"], {"skipped_updates": "skipped"})
    used.add("skipped_updates")
    for k in keys:
        if k not in used:
            add(k, [k])
    monitor = [e for e in run.events if e.get("event") == "monitor"]
    if monitor:
        pts = [
            (e["step"], e["sample_diversity"])
            for e in monitor
            if _finite(e.get("sample_diversity"))
        ]
        charts.append(
            Chart(
                "Sample variety (monitor)",
                [Series("G_ema / real", [float(s) for s, _ in pts], [float(v) for _, v in pts])],
                note="Mean pairwise distance of G_ema's samples on fixed latents, relative to "
                "real images; near 0 is mode collapse.",
            )
        )
    # evaluation results: one chart per numeric metric (their scales differ)
    evals = [e for e in run.events if e.get("event") == "eval"]
    ekeys: list[str] = []
    for e in evals:
        for k, v in e.items():
            if k not in ("step", "event") and _finite(v) and k not in ekeys:
                ekeys.append(k)
    for k in ekeys:
        pts = [(e["step"], e[k]) for e in evals if _finite(e.get(k))]
        charts.append(
            Chart(
                f"Evaluation: {k}",
                [Series(k, [float(s) for s, _ in pts], [float(v) for _, v in pts])],
            )
        )
    return charts


def _markers(events: list[dict[str, Any]]) -> list[tuple[float, str, str]]:
    out = []
    for e in events:
        kind = e.get("event")
        if kind == "rollback":
            out.append(
                (e["step"], "rollback", f"rollback at step {e['step']}: {e.get('reason', '')}")
            )
        elif kind == "nonfinite_grad":
            out.append(
                (e["step"], "skip", f"non-finite {e.get('net', '')} gradient at {e['step']}")
            )
        elif kind == "skipped_files":
            out.append((e["step"], "files", f"{e.get('count', '?')} files skipped"))
    return out


# --------------------------------------------------------------------------- page parts


def _config_html(text: str) -> str:
    """config.toml with light syntax colouring (sections, keys, strings, numbers)."""
    if not text.strip():
        return '<p class="muted">No config.toml in this run folder.</p>'
    lines = []
    for line in text.splitlines():
        esc = html.escape(line)
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            lines.append(f'<span class="sec">{esc}</span>')
        elif s.startswith("#"):
            lines.append(f'<span class="muted">{esc}</span>')
        elif "=" in line:
            k, v = line.split("=", 1)
            vs = v.strip()
            cls = "str" if vs.startswith(('"', "'")) else "num"
            if vs in ("true", "false"):
                cls = "bool"
            elif vs.startswith("["):
                cls = "arr"
            lines.append(
                f'<span class="key">{html.escape(k)}</span>=<span class="{cls}">'
                f"{html.escape(v)}</span>"
            )
        else:
            lines.append(esc)
    return f'<pre class="toml">{chr(10).join(lines)}</pre>'


def _event_detail(e: dict[str, Any]) -> str:
    kind = e.get("event")
    if kind == "rollback":
        return (
            f"{e.get('reason', '')}: back to step {e.get('to_step', '?')}, "
            f"lr_g {fmt(e.get('lr_g'))}, lr_d {fmt(e.get('lr_d'))} "
            f"(rollback {e.get('rollbacks', '?')})"
        )
    if kind == "nonfinite_grad":
        src = "data finite" if e.get("data_finite", True) else "non-finite DATA"
        return f"{e.get('net', '?')} update skipped ({src})"
    if kind == "skipped_files":
        files = e.get("files") or []
        shown = ", ".join(str(f) for f in files[:5])
        more = f" … (+{len(files) - 5} listed)" if len(files) > 5 else ""
        return f"{e.get('count', len(files))} unreadable files: {shown}{more}"
    rest = {k: v for k, v in e.items() if k not in ("step", "event")}
    return ", ".join(f"{k}={fmt(v)}" for k, v in rest.items() if not isinstance(v, dict))


def _events_html(events: list[dict[str, Any]]) -> str:
    guard = [e for e in events if e.get("event") not in ("eval", "monitor")]
    if not guard:
        return (
            '<p class="ok">No guard events: no rollbacks, no skipped updates, no skipped files.</p>'
        )
    counts: dict[str, int] = {}
    for e in guard:
        counts[str(e.get("event"))] = counts.get(str(e.get("event")), 0) + 1
    summary = ", ".join(f"{n} × {html.escape(k)}" for k, n in counts.items())
    rows = []
    for e in guard[:MAX_EVENT_ROWS]:
        kind = html.escape(str(e.get("event")))
        rows.append(
            f'<tr class="ev-{kind}"><td class="num">{e["step"]:,}</td><td>{kind}</td>'
            f"<td>{html.escape(_event_detail(e))}</td></tr>"
        )
    more = ""
    if len(guard) > MAX_EVENT_ROWS:
        more = f'<p class="muted">… {len(guard) - MAX_EVENT_ROWS} more in metrics.jsonl</p>'
    return (
        f'<p>{summary}</p><table class="events"><thead><tr><th>step</th><th>event</th>'
        f"<th>details</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
    )


def _samples_html(run: RunData, max_images: int) -> str:
    if not run.samples:
        if run.final_sample is None:
            return '<p class="muted">No sample grids written yet.</p>'
        return f'<img class="frame" alt="final samples" src="{image_data_uri(run.final_sample)}">'
    picked = [run.samples[i] for i in evenly_spaced(len(run.samples), max_images)]
    imgs = []
    for j, (step, path) in enumerate(picked):
        hidden = "" if j == len(picked) - 1 else " hidden"
        imgs.append(
            f'<img class="frame" data-step="{step}" alt="samples at step {step}" '
            f'src="{image_data_uri(path)}"{hidden}>'
        )
    n = len(picked)
    note = ""
    if n < len(run.samples):
        note = f" · {n} of {len(run.samples)} grids shown, evenly spaced"
    return (
        f'<div class="slider-box"><div class="frames">{"".join(imgs)}</div>'
        f'<div class="controls"><button type="button" id="play" title="play">▶</button>'
        f'<input type="range" id="sample-slider" min="0" max="{n - 1}" value="{n - 1}" '
        f'step="1" aria-label="sample grid">'
        f'<span id="sample-label">step {picked[-1][0]:,}</span></div>'
        f'<div class="muted small">G_ema on fixed latents{note}</div></div>'
    )


def _summary_html(run: RunData) -> str:
    cfg = run.config
    recs = run.records
    last = recs[-1] if recs else {}
    total = cfg.get("steps")
    step = max([r["step"] for r in recs] + [e["step"] for e in run.events] + [0])
    batch = int(cfg.get("batch_size", 0) or 0)
    wall = estimate_wall_time(recs, batch) if batch else float("nan")
    rollbacks = sum(1 for e in run.events if e.get("event") == "rollback")
    skipped_files = sum(
        int(e.get("count", 0)) for e in run.events if e.get("event") == "skipped_files"
    )
    done = isinstance(total, int) and step >= total
    cards = [
        ("Steps", f"{step:,}" + (f" / {total:,}" if isinstance(total, int) else "")),
        ("Status", "finished" if done else "in progress" if recs else "not started"),
        ("Training time", fmt_duration(wall) + (" (est.)" if recs else "")),
        ("Last images/s", fmt(last.get("images_per_s"))),
        ("loss_d / loss_g", f"{fmt(last.get('loss_d'))} / {fmt(last.get('loss_g'))}"),
        ("D(x) / D(G(z))", f"{fmt(last.get('d_real'))} / {fmt(last.get('d_fake'))}"),
        ("Skipped updates", fmt(last.get("skipped_updates", 0))),
        ("Rollbacks", str(rollbacks)),
    ]
    if skipped_files:
        cards.append(("Skipped files", f"{skipped_files:,}"))
    if "ada_p" in last:
        cards.append(("ADA p", fmt(last.get("ada_p"))))
    evals = [e for e in run.events if e.get("event") == "eval"]
    if evals:
        le = evals[-1]
        for k, v in le.items():
            if k not in ("step", "event") and _finite(v):
                cards.append((f"{k} @ {le['step']:,}", fmt(v)))
    if run.best:
        cards.append(
            (
                f"best {run.best.get('metric', '')}",
                f"{fmt(run.best.get('value'))} @ {fmt(run.best.get('step'))}",
            )
        )
    return "".join(
        f'<div class="stat"><div class="label">{html.escape(k)}</div>'
        f'<div class="value">{html.escape(v)}</div></div>'
        for k, v in cards
    )


_CSS = """
:root{--fg:#111827;--muted:#6b7280;--bg:#f3f4f6;--card:#fff;--line:#e5e7eb;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:var(--fg);background:var(--bg)}
header{background:#111827;color:#f9fafb;padding:18px 28px}
header h1{margin:0;font-size:22px;font-weight:600}
header .sub{color:#9ca3af;font-size:13px;margin-top:2px}
main{padding:20px 28px;max-width:1500px;margin:0 auto}
h2{font-size:16px;margin:26px 0 10px;font-weight:600}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.stat .label{color:var(--muted);font-size:12px}
.stat .value{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
.row{display:grid;grid-template-columns:minmax(0,1.25fr) minmax(0,1fr);gap:16px}
@media (max-width:900px){.row{grid-template-columns:1fr}}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;
 margin:0}
.frames{display:flex;justify-content:center;background:#fafafa;border-radius:6px}
.frames img{max-width:100%;width:480px;image-rendering:pixelated;display:block}
.frames img[hidden]{display:none}
.controls{display:flex;align-items:center;gap:10px;margin-top:10px}
.controls input{flex:1}
.controls button{border:1px solid var(--line);background:#fff;border-radius:6px;
 width:34px;height:28px;cursor:pointer}
#sample-label{min-width:110px;font-variant-numeric:tabular-nums;font-weight:600}
pre.toml{margin:0;max-height:520px;overflow:auto;font:12px/1.5 ui-monospace,Menlo,Consolas,
 monospace;background:#fafafa;padding:10px;border-radius:6px}
.toml .sec{color:#9333ea;font-weight:600}.toml .key{color:#1f2937}
.toml .str{color:#15803d}.toml .num{color:#b45309}.toml .bool{color:#2563eb}
.toml .arr{color:#0e7490}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}
figcaption{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 12px;margin-bottom:4px}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;color:#374151}
.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle;
 border-radius:2px}
.scale{font-size:11px;color:var(--muted)}
.plot{position:relative}
svg.chart{width:100%;height:auto;display:block}
svg .grid{stroke:#eef0f3}svg .frame{fill:none;stroke:#d1d5db}
svg .tick{font-size:11px;fill:#6b7280}
svg .line{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg .marker.rollback{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:4 3}
svg .marker.skip{stroke:#f59e0b;stroke-width:1}
svg .marker.files{stroke:#6b7280;stroke-dasharray:2 3}
svg .cursor{stroke:#9ca3af;stroke-width:1}
.tip{position:absolute;top:6px;pointer-events:none;background:rgba(17,24,39,.92);color:#fff;
 font-size:12px;padding:5px 8px;border-radius:5px;white-space:nowrap}
.note{font-size:12px;color:var(--muted)}
.bad{color:#dc2626}
table.events{border-collapse:collapse;width:100%;background:var(--card);font-size:13px}
.events th,.events td{border-bottom:1px solid var(--line);padding:5px 10px;text-align:left}
.events td.num{text-align:right;font-variant-numeric:tabular-nums;width:90px}
.ev-rollback td{background:#fef2f2}.ev-nonfinite_grad td{background:#fffbeb}
.muted{color:var(--muted)}.small{font-size:12px;margin-top:6px}.ok{color:#15803d}
.legend-ev{font-size:12px;color:var(--muted);margin:6px 0 0}
.legend-ev b.r{color:#dc2626}.legend-ev b.s{color:#f59e0b}
footer{color:var(--muted);font-size:12px;padding:10px 28px 30px;text-align:center}
"""

# Slider over the sample grids, and a hover read-out on every chart. No libraries.
_JS = r"""
(function(){
  var s=document.getElementById('sample-slider');
  if(s){
    var frames=document.querySelectorAll('.frames img');
    var label=document.getElementById('sample-label');
    var show=function(i){
      frames.forEach(function(f,j){f.hidden=(j!==i);});
      label.textContent='step '+Number(frames[i].dataset.step).toLocaleString('en-US');
    };
    s.addEventListener('input',function(){show(Number(s.value));});
    var timer=null, play=document.getElementById('play');
    play.addEventListener('click',function(){
      if(timer){clearInterval(timer);timer=null;play.textContent='\u25B6';return;}
      play.textContent='\u275A\u275A';
      if(Number(s.value)>=Number(s.max)){s.value=0;show(0);}
      timer=setInterval(function(){
        var i=Number(s.value)+1;
        if(i>Number(s.max)){clearInterval(timer);timer=null;play.textContent='\u25B6';return;}
        s.value=i;show(i);
      },350);
    });
  }
  var fmt=function(v){
    if(v===null||v===undefined)return 'n/a';
    var a=Math.abs(v);
    return (a>=1e4||(a<1e-3&&a>0))?v.toExponential(2):Number(v.toPrecision(4)).toString();
  };
  document.querySelectorAll('.plot').forEach(function(plot){
    var d=JSON.parse(plot.dataset.chart), svg=plot.querySelector('svg');
    var cur=svg.querySelector('.cursor'), tip=plot.querySelector('.tip');
    svg.addEventListener('mousemove',function(ev){
      var pt=svg.createSVGPoint();pt.x=ev.clientX;pt.y=ev.clientY;
      var p=pt.matrixTransform(svg.getScreenCTM().inverse());
      var xv=d.x0+(p.x-d.ml)/d.pw*(d.x1-d.x0);
      var rows=[],sx=null;
      d.series.forEach(function(s){
        if(!s.x.length)return;
        var lo=0,hi=s.x.length-1;
        while(hi-lo>1){var m=(lo+hi)>>1;if(s.x[m]<xv)lo=m;else hi=m;}
        var i=(Math.abs(s.x[lo]-xv)<=Math.abs(s.x[hi]-xv))?lo:hi;
        if(sx===null)sx=s.x[i];
        rows.push('<span style="color:'+s.color+'">\u25CF</span> '+s.name+': '+fmt(s.y[i]));
      });
      if(sx===null)return;
      var cx=d.ml+(sx-d.x0)/(d.x1-d.x0)*d.pw;
      cur.setAttribute('x1',cx);cur.setAttribute('x2',cx);cur.setAttribute('visibility','visible');
      tip.innerHTML='step '+sx.toLocaleString('en-US')+'<br>'+rows.join('<br>');
      tip.hidden=false;
      var r=svg.getBoundingClientRect();
      var left=(cx/svg.viewBox.baseVal.width)*r.width;
      tip.style.left=(left>r.width/2?left-tip.offsetWidth-10:left+10)+'px';
    });
    svg.addEventListener('mouseleave',function(){cur.setAttribute('visibility','hidden');tip.hidden=true;});
  });
  document.body.dataset.ready='1';
})();
"""


def render_report(run: RunData, *, max_images: int = 40) -> str:
    """The report page for ``run`` as one HTML string (see the module docstring)."""
    cfg = run.config
    model = cfg.get("model", {}).get("name", "?") if isinstance(cfg.get("model"), dict) else "?"
    data = cfg.get("data", {}).get("spec", "?") if isinstance(cfg.get("data"), dict) else "?"
    title = f"{run.run_dir.resolve().name} — {model} on {data}"
    steps = [r["step"] for r in run.records] + [e["step"] for e in run.events]
    x_max = float(max(steps)) if steps else None
    markers = _markers(run.events)
    charts = [svg_chart(c, markers, x_max=x_max) for c in build_charts(run)]
    charts = [c for c in charts if c]
    chart_html = (
        f'<div class="charts">{"".join(charts)}</div>'
        if charts
        else '<p class="muted">No metrics logged yet.</p>'
    )
    ev_legend = ""
    if markers:
        ev_legend = (
            '<p class="legend-ev">Markers: <b class="r">- - red</b> rollback, '
            '<b class="s">| amber</b> skipped (non-finite) update, grey dotted: skipped files.'
            " Hover a chart for values.</p>"
        )
    bad = ""
    if run.bad_lines:
        bad = f' · <span class="bad">{run.bad_lines} unreadable lines skipped</span>'
    final = ""
    if run.final_sample is not None and run.samples:
        final = (
            '<details class="small"><summary>Final samples (samples.png)</summary>'
            f'<div class="frames"><img alt="final samples" '
            f'src="{image_data_uri(run.final_sample)}"></div></details>'
        )
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_CSS}</style></head>
<body>
<header><h1>{html.escape(title)}</h1>
<div class="sub">{html.escape(str(run.run_dir))} · report generated {generated}{bad}</div>
</header>
<main>
<section><div class="stats">{_summary_html(run)}</div></section>
<div class="row">
<section><h2>Samples over time</h2><div class="card">{_samples_html(run, max_images)}{final}</div>
</section>
<section><h2>Configuration</h2><div class="card">{_config_html(run.config_text)}</div></section>
</div>
<section><h2>Training curves</h2>{ev_legend}{chart_html}</section>
<section><h2>Guard events</h2>{_events_html(run.events)}</section>
</main>
<footer>ganforge report · self-contained, no network access needed ·
rebuild with <code>ganforge report {html.escape(str(run.run_dir))}</code></footer>
<script>{_JS}</script>
</body></html>
"""


def write_report(run_dir: str | Path, *, max_images: int = 40) -> Path:
    """Build ``run_dir/report.html`` (atomically) and return its path.

    Args:
        run_dir: a run folder written by :class:`~ganforge.training.trainer.Trainer`.
        max_images: most sample grids to embed (evenly spaced over the run, the last
            always included); keeps the file to a few MB on long runs.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
    """
    run = load_run(run_dir)
    page = render_report(run, max_images=max_images)
    out = run.run_dir / REPORT_NAME
    tmp = out.with_name(f".{REPORT_NAME}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


class ReportCallback(Callback):
    """Rebuild ``report.html`` at every sample grid and at the end of training
    (``log.report``)."""

    def on_samples(self, run: RunView, path: Path) -> None:
        write_report(run.run_folder.path)

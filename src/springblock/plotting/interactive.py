"""The book's interactive figures, as plotly HTML that works in the static page (no kernel).

The HTML book is read without Python, so ipywidgets there would be dead. These figures carry their
data with them: hovering a Fig. 1 cell shows its α, noise level, accuracy (± seed spread) and shape;
a slider steps the chain explorer through precomputed settings. plotly's JavaScript ships with the
book (:mod:`springblock.sphinxext` copies it into the build), so nothing is fetched from the web.
In Jupyter the same objects display with plotly's own renderer.
"""
from __future__ import annotations

import os

import numpy as np

from .. import shape
from . import style

PLOTLY_SCRIPT = "plotly.min.js"  # the file name the book's pages load
BOOK_BUILD = "SPRINGBLOCK_BOOK_BUILD"  # set by springblock.sphinxext while the book executes its chapters


class Interactive:
    """A plotly figure that displays as a self-contained ``<div>`` in the book and natively in Jupyter."""

    def __init__(self, figure, height: int):
        self.figure, self.height = figure, height

    def _repr_html_(self) -> str:
        return self.figure.to_html(full_html=False, include_plotlyjs=False, default_height=self.height,
                                   config={"displaylogo": False, "responsive": True})

    def _repr_mimebundle_(self, include=None, exclude=None):
        if os.environ.get(BOOK_BUILD):  # the book's pages load plotly.js themselves
            return {"text/html": self._repr_html_()}
        return {"text/html": self._repr_html_(), "application/vnd.plotly.v1+json": self.figure.to_plotly_json()}


def _grey(v, lo, hi) -> str:
    t = 0.0 if not np.isfinite(v) or hi <= lo else (v - lo) / (hi - lo)
    g = int(round(255 * min(max(t, 0.0), 1.0)))
    return f"rgb({g},{g},{g})"


def _two_lines(label: str) -> str:
    words = label.split()
    half = -(-len(words) // 2)
    return " ".join(words[:half]) + ("<br>" + " ".join(words[half:]) if words[half:] else "")


def fig1(results, split: str = "train", kind: str = "trace") -> Interactive:
    """Fig. 1 with hover: every cell's α, column value, mean test accuracy (± the seed-to-seed spread
    when there are several seeds), ĉ of the seed-mean curve (with the spread of the seeds' own ĉ) and
    the all-layer shape verdict, over the same grey shading and
    normalised red curves as the static figure."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n = len(results)
    # four panels as 2 × 2: side by side, a phone gives each ~70 px and their noise ticks run together;
    # short titles and two-line axis names for the same reason
    rows = 2 if n > 2 else 1
    cols = -(-n // rows)
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.06, vertical_spacing=0.28 if rows > 1 else 0.0,
                        subplot_titles=[f"({r.panel.letter})" for r in results])
    for p, res in enumerate(results, start=1):
        row, col = (p - 1) // cols + 1, (p - 1) % cols + 1
        load, acc = res.mean_load(split, kind), res.mean_acc()
        rc, verdict, spread = res.curvature(split, kind), res.verdict(split, kind).label(), res.acc_spread()
        rc_spread = res.curvature_spread(split, kind)
        lo, hi = np.nanmin(acc), np.nanmax(acc)
        A, V = acc.shape
        norm = shape.normalised(load)
        L1 = load.shape[-1]
        for i in range(A):
            for j in range(V):
                x0, y0 = j, A - 1 - i
                sd = "" if not np.isfinite(spread[i, j]) else f" ± {spread[i, j]:.2f}"
                rc_sd = "" if not np.isfinite(rc_spread[i, j]) else f" (seeds: ± {rc_spread[i, j]:.3f})"
                text = (f"α = {res.alphas[i]:g}<br>{res.panel.label} = {res.panel.tick(res.values[j])}<br>"
                        f"test accuracy {acc[i, j]:.2f}{sd} %<br>ĉ = {style.number(rc[i, j], 3, sign=True)}{rc_sd}<br>"
                        f"shape: {verdict[i, j]}")
                fig.add_shape(type="rect", x0=x0, x1=x0 + 0.96, y0=y0, y1=y0 + 0.96, line_width=0,
                              fillcolor=_grey(acc[i, j], lo, hi), layer="below", row=row, col=col)
                xs = x0 + 0.08 + 0.8 * np.arange(L1) / (L1 - 1)
                ys = y0 + 0.08 + 0.8 * np.nan_to_num(norm[i, j], nan=0.5)
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=style.LOAD_RED, width=2),
                                         hoverinfo="text", text=[text] * L1, hoverlabel=dict(bgcolor="white"),
                                         showlegend=False), row=row, col=col)
        fig.update_xaxes(tickmode="array", tickvals=np.arange(V) + 0.48, ticktext=[res.panel.tick(v) for v in res.values],
                         range=[-0.05, V], showgrid=False, zeroline=False, tickangle=45, row=row, col=col,
                         title=dict(text=_two_lines(res.panel.label), font=dict(size=10)))
        fig.update_yaxes(tickmode="array", tickvals=np.arange(A) + 0.48, ticktext=[f"{a:g}" for a in res.alphas[::-1]],
                         range=[-0.05, A], showgrid=False, zeroline=False, showticklabels=col == 1, row=row, col=col)
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text="negative slope α", row=row, col=1)
    fig.update_layout(margin=dict(l=60, r=10, t=40, b=90), plot_bgcolor="white", font=dict(size=11),
                      title=dict(text="hover a cell: α, noise, accuracy, ĉ, shape", x=0.5, font=dict(size=12)))
    return Interactive(fig, 330 * rows + 30)


def explorer(grid: dict) -> Interactive:
    """The chain explorer as a slider over precomputed settings (rows μ_r × columns σ of
    :func:`springblock.experiments.chain_grids.explorer_grid`): every realisation's load (grey), their
    mean (red), Eq. 7 (dotted) and Eq. 8 (dashed), with the mean curve's curvature in the title."""
    import plotly.graph_objects as go

    mu_r, sigma, load = grid["mu_r"], grid["sigma"], grid["load"]  # load: (rows, cols, R, L+1)
    R, L1 = load.shape[-2:]
    ell = np.arange(L1)
    fig = go.Figure()
    steps = []
    per = R + 3
    for i in range(len(mu_r)):
        for j in range(len(sigma)):
            first = len(fig.data)
            for r in range(R):
                fig.add_trace(go.Scatter(x=ell, y=load[i, j, r], mode="lines", line=dict(color="lightgrey", width=1),
                                         hoverinfo="skip", showlegend=False, visible=False))
            mean = load[i, j].mean(0)
            fig.add_trace(go.Scatter(x=ell, y=mean, mode="lines+markers", line=dict(color=style.LOAD_RED, width=3),
                                     name="mean load", visible=False))
            fig.add_trace(go.Scatter(x=ell, y=grid["eq7"][i], mode="lines", line=dict(color="black", dash="dot"),
                                     name="Eq. 7 (no noise)", visible=False))
            fig.add_trace(go.Scatter(x=ell, y=grid["eq8"][i], mode="lines", line=dict(color="black", dash="dash"),
                                     name="Eq. 8 (large noise)", visible=False))
            c = float(np.asarray(mean[0] - mean[1] - mean[-2] + mean[-1]))
            steps.append(dict(first=first, label=f"μr={mu_r[i]:g}, σ={sigma[j]:g}", c=c))
    total = len(fig.data)
    slider_steps = []
    for s in steps:
        vis = [False] * total
        vis[s["first"]:s["first"] + per] = [True] * per
        slider_steps.append(dict(method="update", label=s["label"],
                                 args=[{"visible": vis}, {"title.text": f"{s['label']}: curvature c = "
                                                                        f"{style.number(s['c'], 3, sign=True)}"}]))
    for k in range(steps[0]["first"], steps[0]["first"] + per):
        fig.data[k].visible = True
    fig.update_layout(sliders=[dict(active=0, steps=slider_steps, currentvalue=dict(prefix="setting: "),
                                    pad=dict(t=40))],
                      title=f"{steps[0]['label']}: curvature c = {style.number(steps[0]['c'], 3, sign=True)}",
                      xaxis_title="layer / block ℓ", yaxis_title="load λ_ℓ", yaxis_range=[-0.05, 1.05],
                      plot_bgcolor="white", margin=dict(l=60, r=10, t=50, b=10), font=dict(size=11),
                      legend=dict(x=0.62, y=0.98))
    fig.update_xaxes(showgrid=True, gridcolor="#eee")
    fig.update_yaxes(showgrid=True, gridcolor="#eee")
    return Interactive(fig, 470)

"""The book's figures, in one style (:mod:`.style`), without torch: they read results and draw.

* :mod:`.grids` — phase diagrams as small multiples (Fig. 1 style) and tables as colour maps
* :mod:`.curves` — load curves against layer or block, a network's or a chain's (one plotter)
* :mod:`.chain` — the spring–block chain, the Fig. 2 dictionary, load dynamics
* :mod:`.noise` — the chain under noise (chapter 4): effective friction, Eq. 8, bounded and synchronous noise, Langevin
* :mod:`.networks` — the networks' figures: Fig. 1, curvature maps, Fig. 4 (left), chapters 5–7
* :mod:`.interactive` — the same figures as self-contained plotly HTML (hover, sliders; no kernel)
"""
from .chain import (chain_curvature_grid, chain_phase_figure, draw_chain, fig2_simulation, fig2_sketch, plot_curvature_sweep,
                    plot_effective_friction, plot_trajectory)
from .curves import load_curves, sequence_colors
from .grids import phase_figure, phase_panel, value_grid
from .networks import (accuracy_curvature, accuracy_panels, controller_figure, curvature_maps, dataset_diagrams,
                       depth_width_figure, dynamics_figure, fig1_figure, fit_overlay, metrics_figure,
                       train_test_figure)
from .noise import (bounded_noise_figure, effective_friction_figure, frictionless_chain_figure, langevin_loads_figure,
                    langevin_maps_figure, noise_dynamics_figure, noise_sweep_figure, synchronous_noise_figure)
from .style import ACCENT, LOAD_RED, interval, number, symbol

__all__ = ["ACCENT", "LOAD_RED", "accuracy_curvature", "accuracy_panels", "chain_curvature_grid", "chain_phase_figure",
           "controller_figure", "curvature_maps", "draw_chain",
           "dynamics_figure", "fig1_figure", "fig2_simulation", "fig2_sketch", "fit_overlay", "load_curves",
           "interval", "number", "symbol", "phase_figure", "phase_panel", "plot_curvature_sweep",
           "plot_effective_friction",
           "sequence_colors",
           "plot_trajectory", "value_grid",
           # chapter 4's chain under noise
           "bounded_noise_figure", "effective_friction_figure", "frictionless_chain_figure", "langevin_loads_figure",
           "langevin_maps_figure", "noise_dynamics_figure", "noise_sweep_figure", "synchronous_noise_figure",
           # chapter 5's accuracy figures
           "dataset_diagrams", "depth_width_figure", "metrics_figure", "train_test_figure"]

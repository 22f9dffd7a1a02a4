"""The book's experiments, one module per family. Each function takes its settings explicitly (the
chapters pass ``springblock.scales.settings(name, scale)``) and returns plain results; everything
expensive goes through :func:`springblock.results.run`, so it is cached, resumable and keyed.

* :mod:`.mlp` — the one experiment for the engine's MLPs (cached per network)
* :mod:`.fig1` — Fig. 1 phase-diagram panels and Fig. 4 (left) training dynamics
* :mod:`.architectures` — other normalisations, depths, widths, datasets, optimizers and metrics
* :mod:`.protocols` — single-network protocols: the S2 CNN, Fig. 5(a), S12 regression, a probe
* :mod:`.chain_grids` — spring–block simulations of chapters 3–4
* :mod:`.chain_fits` — spring chains fitted to networks' load dynamics
* :mod:`.control` — load-guided dropout
"""

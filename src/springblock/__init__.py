"""springblock — the reference companion to *A spring–block theory of feature learning in
deep neural networks* (Shi, Pan, Dokmanić, PRL 2025).

Submodules (import what you need; the spring–block side never imports torch):

* :mod:`springblock.separation` — D_ℓ, He–Su metric, load curves, curvature (torch)
* :mod:`springblock.chain`, :mod:`springblock.theory` — spring–block simulator, closed forms (NumPy)
* :mod:`springblock.data` — datasets with the paper's preprocessing (offline MNIST default)
* :mod:`springblock.models`, :mod:`springblock.train` — the paper's networks, many trained at once
* :mod:`springblock.sweep` — phase-diagram grids with a resumable on-disk cache
* :mod:`springblock.scales` — what the ``device`` / ``scale`` / ``seed`` parameters mean
"""
__version__ = "0.1.0"

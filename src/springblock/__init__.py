"""springblock — the reference companion to *A spring–block theory of feature learning in deep
neural networks* (Shi, Pan, Dokmanić, PRL 2025).

The spring–block side (:mod:`~springblock.chain`, :mod:`~springblock.theory`,
:mod:`~springblock.shape`, :mod:`~springblock.plotting`) never imports torch; the network side
(:mod:`~springblock.separation`, :mod:`~springblock.train`, :mod:`~springblock.experiments`) does.
``CONTRIBUTING.md`` maps every module.
"""
import os as _os

# MKL's strict reproducibility mode makes each matrix of a batched product bitwise independent of
# the others in the batch, so a network's numbers do not depend on which networks share its stack
# (exact resume). It must be set before torch's first matrix product; it costs nothing measurable.
# It is set whatever the environment says (another mode gives other last bits under the same
# settings); if torch ran a product before this import, the mode actually in force is in every key.
_os.environ["MKL_CBWR"] = "AUTO,STRICT"

__version__ = "0.2.0"

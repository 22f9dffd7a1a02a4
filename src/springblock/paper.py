"""What the paper reports, stated once: the numbers our results are set beside.

The paper's settings (grids, seeds, epochs) live in :mod:`springblock.scales`; this module holds its
*results* where it prints or plots a number we can read: the accuracy colour ranges under the four
panels of Fig. 1 and the outputs stored in the authors' spring notebooks.
"""
FIG1_ACC_RANGE = {  # test accuracy (%) from black to white under each Fig. 1 panel
    "noise": (83.4, 92.1), "lr": (82.1, 93.3), "dropout": (89.1, 93.5), "batch": (85.5, 93.9)}
S14_STORED_LOAD = (0.87, 0.735, 0.61, 0.48, 0.36, 0.235, 0.12)  # 1 − x_ℓ stored in the authors' sdeint notebook
FIG2_NOTEBOOK_LOAD = tuple((8 - ell) / 8 for ell in range(8))  # their first-order notebook: linear, λ_ℓ = (8 − ℓ)/8

"""Probes the `latedecay` paper's figures use: the generic PCA landscape (Fig. 2)."""

from . import pca_landscape  # noqa: F401  (registers the probe kind)

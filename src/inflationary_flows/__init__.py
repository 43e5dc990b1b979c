"""Inflationary flows: calibrated Bayesian inference with diffusion-based models.

A re-implementation from the mathematics of de Albuquerque & Pearson (NeurIPS 2024,
arXiv:2407.08843). The subpackages are imported on demand so that ``import
inflationary_flows`` stays cheap (the Snakefile imports the config helpers at parse time).
"""

__version__ = "0.1.0"

"""Figures as vector PDFs and GIFs.

The backend is chosen here, once: every figure module is in this package, so Agg is set
before any of them imports pyplot, whatever was imported first.
"""

import matplotlib

matplotlib.use("Agg")

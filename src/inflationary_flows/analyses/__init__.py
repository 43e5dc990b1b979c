"""Analyses of trained flows: calibration metrics, coverage, posteriors, residuals, dimensionality,
the SDE duality, solver accuracy, neighbourhoods, density benchmark, benchmarks."""

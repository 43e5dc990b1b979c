# %% [markdown]
# # Inflationary flows on your own table
#
# A CSV of numeric vectors in, a calibrated invertible map to a Gaussian latent out: train a
# PRP denoiser, inflate held-out rows, check their calibration, generate, and evaluate
# log-densities. Run it as a script (`python examples/own_data.py [your.csv]`) or cell by
# cell (`# %%` cells: VS Code, Jupytext). Without an argument it writes scikit-learn's wine
# measurements (178 x 13, shipped with the package) to a CSV first.
#
# `IF_EXAMPLE_STEPS` sets the training steps (default 1500; the test suite uses a few).

# %%
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_wine

from inflationary_flows.analyses.metrics import calibration_radii, latent_calibration
from inflationary_flows.backbones.mlp import ResidualMLP
from inflationary_flows.basis import EigenBasis
from inflationary_flows.flow import InflationaryFlow, SolverConfig
from inflationary_flows.pca import fit_pca
from inflationary_flows.preconditioning import IFPreconditioner
from inflationary_flows.schedules import make_schedule
from inflationary_flows.smoothing import (
    add_noise,
    median_neighbour_distance,
    noise_at_t_min,
    time_at_noise_norm,
)
from inflationary_flows.tables import load_table
from inflationary_flows.training import TrainConfig, Trainer

torch.set_default_dtype(torch.float64)
if len(sys.argv) > 1:
    csv = Path(sys.argv[1])
else:
    wine = load_wine()
    csv = Path(tempfile.mkdtemp()) / "wine.csv"
    header = ",".join(name.replace(",", " ") for name in wine.feature_names)
    np.savetxt(csv, wine.data, delimiter=",", header=header, comments="")

# %% [markdown]
# ## Read and split
# The same reader as the workflow's `data.tables`: a header row names the columns, a seeded
# split holds rows back, and every column is z-scored with training statistics. A bad table
# (a text cell, NaN, too few rows) stops here with one line naming the file.

# %%
data = load_table(str(csv), columns=[], test_fraction=0.2, standardize=True, seed=0)
train = torch.as_tensor(data.train)
test = torch.as_tensor(data.test)
print(f"{csv.name}: {len(train)} training rows, {len(test)} held out, D = {data.dim}")

# %% [markdown]
# ## PCA once, then the schedule and the denoiser
# PRP ("prp") keeps the participation ratio; for dimension reduction use
# `make_schedule("prr", "exponential", eigenvalues, dims_to_keep=d)`.

# %%
pca = fit_pca(data.train)
basis = EigenBasis.from_pca(pca)
schedule = make_schedule("prp", "exponential", torch.as_tensor(pca.eigenvalues))
t_max = 15.0

# %% [markdown]
# ## Start where the noise fills the gaps between rows
# With a few hundred rows a denoiser at small t learns the rows themselves, and held-out rows
# fall between them. Starting the flow where the noise reaches a row's nearest neighbour
# (what the workflow's `t_min: auto` does) makes the model a smooth density of the rows
# plus that noise; a validation share of the rows picks the training step to keep.

# %%
t_min = time_at_noise_norm(schedule, median_neighbour_distance(data.train), t_max)
print(f"t_min = {t_min:.2f}")
torch.manual_seed(0)
network = ResidualMLP(data.dim, t_max=t_max, width=128, depth=4, time_features=16)
model = IFPreconditioner(network, schedule, basis)

# %%
steps = int(os.environ.get("IF_EXAMPLE_STEPS", 1500))
trainer = Trainer(model, basis.to_eigen(train),
                  TrainConfig(steps=steps, batch_size=256, t_min=t_min, t_max=t_max,
                              warmup_steps=min(100, steps), stable_target_size=256,
                              validation_fraction=0.2, validate_every=min(50, steps)))
trainer.fit()
print(f"kept the weights of step {trainer.best['step']}")

# %% [markdown]
# ## Inflate, check calibration, generate, evaluate densities
# Held-out rows, with the model's t_min noise added, should land in the latent prior
# N(0, A^2 Sigma) like fresh draws: the share inside each Mahalanobis ball should match the
# chi2 mass (a gap of a few points is noise at this n; tens of points mean the model does not
# generalise to rows it has not seen).

# %%
flow = InflationaryFlow(trainer.ema, basis, SolverConfig(t_min=t_min, t_max=t_max,
                                                         rtol=1e-5, atol=1e-5))
smoothed = add_noise(test, noise_at_t_min(flow), basis.eigenvectors,
                     torch.Generator().manual_seed(2))
with torch.no_grad():
    z = flow.inflate(smoothed).value
    calibration = latent_calibration(z, flow.latent_variance(), calibration_radii(data.dim))
    round_trip = flow.generate(z).value
    samples = flow.generate(flow.sample_prior(200, torch.Generator().manual_seed(1))).value
    log_density = flow.log_prob(test[:20])
print(f"held-out calibration: largest gap {100 * calibration['max_abs_error']:.1f} pp")
print(f"round trip: largest error {(round_trip - smoothed).abs().max():.2e}")
print(f"generated: {tuple(samples.shape)}; held-out log-density "
      f"{log_density.mean() / data.dim:.3f} nats per dimension")

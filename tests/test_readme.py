"""The README's library example runs as written and does what it says."""

import re

import torch
from conftest import REPO


def test_readme_library_example():
    text = (REPO / "README.md").read_text()
    code = re.search(r"## Using the library\n\n```python\n(.*?)```", text, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert torch.allclose(ns["x_back"], ns["x"][:100], atol=1e-3)
    assert ns["samples"].shape == (100, 2) and torch.isfinite(ns["logp"]).all()

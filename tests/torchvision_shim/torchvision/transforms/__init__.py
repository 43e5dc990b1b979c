"""Only the submodule torch-fidelity imports."""

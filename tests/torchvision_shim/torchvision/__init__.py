"""Stand-in for torchvision where the installed one cannot load (PyPI's x86_64 wheels need a
CUDA torch; this project's tests run a CPU torch). torch-fidelity imports torchvision when
it is imported, but its Inception-v3 FID path never calls it: only the names it imports exist
here, and using any of them fails loudly. Put on sys.path by tests/fid_fixtures.py only when
`import torchvision` fails."""

SHIM = True

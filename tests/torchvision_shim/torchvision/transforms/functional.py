"""Functions torch-fidelity's non-Inception extractors call; unusable here."""


def __getattr__(name):
    raise RuntimeError(f"torchvision.transforms.functional.{name}: torchvision is not "
                       "installed for this torch; only the shim is")

"""Dataset classes torch-fidelity subclasses at import; unusable here."""


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("torchvision is not installed for this torch; only the shim is")


class CIFAR10(_Unavailable):
    pass


class CIFAR100(_Unavailable):
    pass


class STL10(_Unavailable):
    pass

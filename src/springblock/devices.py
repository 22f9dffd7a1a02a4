"""Turn a device argument into a usable ``torch.device``, or refuse it before any work."""
from __future__ import annotations

DEVICES = ("cpu", "cuda")


def resolve_device(device) -> "torch.device":  # noqa: F821  (torch imported lazily)
    """Map ``"cpu"``/``"cuda"``/``"cuda:N"``/``torch.device`` to a usable torch.device.

    Raises ValueError for an unknown device and RuntimeError when CUDA is requested on a machine
    that has none, instead of failing later inside a kernel.
    """
    import torch  # lazy: the spring-block chapters never need torch

    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}") from err
    if dev.type not in DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={device!r} requested but torch.cuda.is_available() is False on this "
                               "machine; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device index {dev.index} out of range: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return dev


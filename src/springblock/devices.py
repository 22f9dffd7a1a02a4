"""Turn a device argument into a usable ``torch.device``, or refuse it before any work; name the
hardware behind one for people (the run log, the reproducibility page).

Not part of any result's code fingerprint: the device *type* is in every key, and naming a
processor changes no number (``springblock.fingerprint.NOT_FINGERPRINTED``)."""
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


def cpu_model() -> str:
    """This machine's processor, as /proc/cpuinfo names it (platform's guess elsewhere)."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(dev=None) -> str:
    """A readable name of the hardware behind ``dev`` (a GPU's model, else the CPU's)."""
    if dev is not None and getattr(dev, "type", None) == "cuda":
        import torch

        return torch.cuda.get_device_name(dev)
    return cpu_model()

def cpu_type() -> dict[str, str]:
    """This machine's CPU as results record it: its model and the instruction set torch's kernels
    and the BLAS dispatch to (``AVX2``, ``AVX512``, ...)."""
    import torch

    return {"device_name": device_name(None), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def torch_threads() -> int:
    """torch's CPU thread count: a matrix product's rounding depends on it."""
    import torch

    return torch.get_num_threads()

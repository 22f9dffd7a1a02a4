"""What hardware a result was computed on, named for people (the run log, the reproducibility page).

Kept apart from :mod:`springblock.devices` on purpose: the code fingerprint of every result follows
the modules its computation imports, and naming a processor changes no result."""
from __future__ import annotations


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

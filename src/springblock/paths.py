"""Where the package keeps files on disk (nothing here imports torch)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root folder of the result cache: ``$SPRINGBLOCK_CACHE``, else ``~/.cache/springblock``. A value
    that cannot be a cache folder (empty, blank, an unknown ``~user``, an existing file) is refused by name."""
    root = os.environ.get("SPRINGBLOCK_CACHE")
    if root is None:
        return Path.home() / ".cache" / "springblock"
    return env_folder("SPRINGBLOCK_CACHE", root, "unset it for the default ~/.cache/springblock")


def env_folder(name: str, value: str, default_hint: str) -> Path:
    """The folder an environment variable names, or ValueError naming the variable."""
    if not value.strip():
        raise ValueError(f"{name} is set but empty: {default_hint}, or name a folder")
    try:
        path = Path(value).expanduser()
    except RuntimeError as err:  # "~nosuchuser"
        raise ValueError(f"{name}={value!r}: {err}") from None
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name}={value!r} is a file, not a folder")
    return path

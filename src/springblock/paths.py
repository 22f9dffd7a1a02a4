"""Where the package keeps files on disk (nothing here imports torch)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root folder of the result cache: ``$SPRINGBLOCK_CACHE``, else ``~/.cache/springblock``."""
    root = os.environ.get("SPRINGBLOCK_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "springblock"

"""Where labkit keeps its files: the repository root and the cache home (``LABKIT_HOME``)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def repo_root() -> Path | None:
    """The repository checkout that holds this package, or None when labkit is installed."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() else None


def labkit_home() -> Path:
    """``$LABKIT_HOME``; default ``<repo>/.cache/labkit`` in a checkout, else ``~/.cache/labkit``."""
    env = os.environ.get("LABKIT_HOME")
    if env:
        return Path(env).expanduser().resolve()
    root = repo_root()
    return (root / ".cache" / "labkit") if root else Path.home() / ".cache" / "labkit"

"""The course's settings (``course.toml`` at the repository root) and what a lab's grading sandbox may see."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COURSE_FILE = REPO_ROOT / "course.toml"


@lru_cache(maxsize=1)
def settings() -> dict:
    if not COURSE_FILE.exists():
        return {}
    with open(COURSE_FILE, "rb") as fh:
        return tomllib.load(fh)


def published_labs() -> tuple[str, ...]:
    """Labs whose reference solutions students may see (course.toml ``published_solutions``)."""
    labs = settings().get("published_solutions", [])
    if not isinstance(labs, list) or not all(isinstance(x, str) for x in labs):
        raise ValueError(f"{COURSE_FILE}: published_solutions must be a list of lab names")
    return tuple(labs)


def labkit_home() -> Path:
    from labkit._paths import labkit_home as home
    return home()


def sandbox_paths(lab: str | None) -> list[Path]:
    """Read-only paths a sandbox grading ``lab`` sees: labkit, its model cache, the published solutions of
    other labs, and the modules of the autograder that host student code and run beside it (nothing else of it)."""
    paths = [REPO_ROOT / "labkit", labkit_home(),
             REPO_ROOT / "autograder" / "__init__.py", REPO_ROOT / "autograder" / "remote.py",
             REPO_ROOT / "autograder" / "student_host.py", REPO_ROOT / "autograder" / "sandbox_helpers.py"]
    published = [name for name in published_labs() if name != lab]
    if published:
        paths += [REPO_ROOT / "solutions" / "__init__.py", REPO_ROOT / "solutions" / "engine_parts.py"]
        paths += [REPO_ROOT / "solutions" / name for name in published]
    return paths

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


def _exercise_list(value, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) and (x == "engine" or x.count("/") == 1)
                                              for x in value):
        raise ValueError(f'{COURSE_FILE}: {what} must be a list of "lab/exercise" names (or "engine")')
    return value


def builds_on(lab: str | None) -> tuple[str, ...]:
    """The ``lab/exercise`` reference modules ``lab`` builds on (course.toml ``[builds_on]``; ``"engine"``: the
    ``engine_parts`` of the labs before it)."""
    table = settings().get("builds_on", {})
    entries = _exercise_list(table.get(lab, []) if isinstance(table, dict) and lab else [], f"builds_on.{lab}")
    out: list[str] = []
    for entry in entries:
        if entry == "engine":
            engine = _exercise_list(settings().get("engine_parts", []), "engine_parts")
            out += [e for e in engine if e.split("/")[0] < lab]
        else:
            out.append(entry)
    return tuple(dict.fromkeys(out))


def sandbox_paths(lab: str | None) -> list[Path]:
    """Read-only paths a sandbox grading ``lab`` sees: labkit, its model cache, the published solutions of
    other labs, the reference modules ``lab`` builds on, and the modules of the autograder that host student
    code and run beside it (nothing else of it)."""
    paths = [REPO_ROOT / "labkit", labkit_home(),
             REPO_ROOT / "autograder" / "__init__.py", REPO_ROOT / "autograder" / "remote.py",
             REPO_ROOT / "autograder" / "student_host.py", REPO_ROOT / "autograder" / "sandbox_helpers.py"]
    solutions = REPO_ROOT / "solutions"
    published = [solutions / name for name in published_labs() if name != lab]
    modules = []
    for entry in builds_on(lab):
        other, exercise = entry.split("/")
        if other != lab and solutions / other not in published:
            modules += [solutions / other / "__init__.py", solutions / other / f"{exercise}.py"]
    if published or modules:
        paths += [solutions / "__init__.py", solutions / "engine_parts.py"]
        paths += published + list(dict.fromkeys(modules))
    return paths

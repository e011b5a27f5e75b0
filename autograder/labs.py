"""Choosing labs by name on the command line: one rule for every tool (course-check, gpu_runner)."""
from __future__ import annotations


def select_labs(labs: list[str], only: list[str] | None) -> list[str]:
    """The labs named by ``only`` (full ids or unique prefixes such as ``lab2_5``), in the order named,
    each once; all of ``labs`` without ``only``. ``ValueError`` naming the choices for an unknown or
    ambiguous name."""
    if not only:
        return list(labs)
    chosen = []
    for name in only:
        matches = [lab for lab in labs if lab == name] or [lab for lab in labs if lab.startswith(name)]
        if len(matches) != 1:
            raise ValueError(f"--lab {name!r} matches {len(matches)} labs; expected one of {', '.join(labs)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen

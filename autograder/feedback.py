"""Feedback text for a graded exercise: which properties held, which failed and why; never grader code."""
from __future__ import annotations

from .runner import ExerciseResult


def _pts(x: float) -> str:
    return f"{x:g}"


def feedback_text(result: ExerciseResult) -> str:
    lines = [f"{result.grade_id}: {_pts(result.score)} / {_pts(result.max_points)} points"]
    if not result.sandboxed:
        lines.append("  !! graded WITHOUT the sandbox (--no-sandbox, local debugging): this grade is not defensible")
    for notice in result.notices:
        lines.append(f"  note: {notice}")
    if result.error:
        lines.append(f"  !! {result.error}")
    for t in result.tests:
        mark = "PASS" if t.earned >= t.points and t.points > 0 else "FAIL"
        lines.append(f"  [{mark}] {t.doc} ({_pts(t.earned)}/{_pts(t.points)})")
        if mark == "FAIL" and t.message and not (result.error and (t.message.startswith("not run") or t.message == result.error)):
            for i, msg_line in enumerate(t.message.splitlines()):
                lines.append(("         " if i else "         -> ") + msg_line)
    return "\n".join(lines) + "\n"

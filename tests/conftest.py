"""Test-suite configuration."""

# tests/fixtures holds demo graders (run by the grading engine inside its worker, with its `student`
# fixture), not tests of this suite.
collect_ignore = ["fixtures"]

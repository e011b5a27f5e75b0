"""Hidden graders and the machinery that runs them out of process (see docs/instructor/exercise_contract.md)."""

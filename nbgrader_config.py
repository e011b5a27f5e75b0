"""nbgrader configuration for the Chapter 2 (Efficient Inference & Serving) course."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, GetGrades, IgnorePattern, LimitOutput, SaveAutoGrades)

from autograder.kernel import KERNEL_NAME, SandboxedKernelManager  # noqa: E402
from autograder.nbgrader_plugin import HiddenGraders, SafeExecute, StripHiddenTests  # noqa: E402

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "llm-serving-ch2"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# The stub students see in place of every ### BEGIN/END SOLUTION region.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution: one pinned kernel; the slowest cell (starting vLLM on CPU, ~30-60 s) fits with margin.
# Hidden graders do not depend on this execution (they grade extracted code out of process).
c.Execute.kernel_name = "python3"
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
# The student's notebook runs in the grading sandbox (autograder/kernel.py): its own uid, pid and network
# namespaces, read-only system, no view of the gradebook, the graders or other submissions.
c.SafeExecute.kernel_name = KERNEL_NAME
c.SafeExecute.kernel_manager_class = SandboxedKernelManager
c.SafeExecute.timeout = 300

# torch / vLLM / transformers print warnings on stderr; stderr in a grade cell would score it 0.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?is)(warn|info|debug|deprecat|futurewarning|userwarning|\[W\d|it/s|%\|)"

# Autograde: execute, then run the hidden graders out of process, then save the grades.
c.Autograde.autograde_preprocessors = [
    SafeExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    HiddenGraders,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.HiddenGraders.workers = 2

# Feedback: never render the restored hidden-test regions.
c.GenerateFeedback.preprocessors = [StripHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]

"""Replaying a repository's later changes as tasks, and scoring Headstart's briefs against baselines.

`run_evaluation` indexes a repository up to a cut point in a store of its own, turns each later
first-parent change into a task whose expected answer is the set of files it changed, and ranks
files for each task with Headstart and with three baselines. `write_report` writes the result as
Markdown, JSON and a PNG chart.
"""

from headstart.evaluation.report import write_report
from headstart.evaluation.runner import EvalOptions, EvalReport, run_evaluation

__all__ = ["EvalOptions", "EvalReport", "run_evaluation", "write_report"]

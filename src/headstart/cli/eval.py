"""`headstart eval`: replay a repository's later changes as tasks and score the briefs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from headstart.cli.app import app
from headstart.cli.common import ModelOption, VerboseOption, setup
from headstart.context.signals import Thresholds
from headstart.errors import InputError
from headstart.evaluation import EvalOptions, EvalReport, run_evaluation, write_report
from headstart.evaluation.cut import parse_cut_date
from headstart.evaluation.metrics import REPORTED_K
from headstart.evaluation.report import LABELS, best_baseline, signed
from headstart.store import Embedder, Store
from headstart.text import counted

stderr = Console(stderr=True)


@app.command("eval")
def evaluate(
    repo: Path = typer.Argument(Path("."), help="Repository to evaluate on (any folder inside it)."),
    cut_date: str | None = typer.Option(None, "--cut-date", help="Cut at the last first-parent commit on or before this ISO 8601 date."),
    cut_rev: str | None = typer.Option(None, "--cut-rev", help="Cut at this revision (a sha, tag or branch HEAD contains)."),
    cut_fraction: float | None = typer.Option(None, "--cut-fraction", help="Cut after this fraction of the first-parent history [default: 0.9]."),
    max_tasks: int = typer.Option(200, "--max-tasks", min=1, metavar="<int>", help="Tasks to replay at most, spread evenly over the later changes."),
    max_files: int = typer.Option(20, "--max-files", min=1, metavar="<int>", help="Skip changes touching more files than this."),
    max_tokens: int = typer.Option(1500, "--max-tokens", min=100, metavar="<int>", help="Token budget of each brief."),
    co_change_anchors: int = typer.Option(3, "--co-change-anchors", min=0, metavar="<int>", help="Files per change used as co-change queries (0: none)."),
    imports: list[Path] = typer.Option([], "--import", metavar="<path>", help="Tracker export (`gh … --json`, GitHub REST dump, Jira) indexed up to the cut; repeatable."),
    out: Path = typer.Option(Path("headstart-eval"), "--out", help="Folder for report.md, report.json and recall.png."),
    work: Path | None = typer.Option(None, "--work", help="Folder for the evaluation's own store, kept for reruns [default: a temporary folder under the data directory, removed afterwards]."),
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Index a repository up to a cut, replay each later change as a task, and compare the briefs with baselines.

    Example: headstart eval ~/src/flask --cut-fraction 0.9 --max-tasks 100 --out flask-eval
    """
    settings = setup(None, model, verbose)
    # Checked before indexing: a folder that turns out to be a file would lose the whole run.
    for flag, folder in (("--out", out), ("--work", work)):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise InputError(f"{flag} {str(folder)!r} is a file, not a folder; give a folder (it is created when missing)")
    options = EvalOptions(
        repo=repo,
        cut_rev=cut_rev,
        cut_date=parse_cut_date(cut_date) if cut_date else None,
        cut_fraction=cut_fraction,
        max_tasks=max_tasks,
        max_files=max_files,
        max_tokens=max_tokens,
        co_change_anchors=co_change_anchors,
        imports=imports,
        thresholds=Thresholds(
            co_change_min_shared=settings.co_change_min_shared,
            co_change_min_confidence=settings.co_change_min_confidence,
            max_files_per_commit=settings.max_files_per_commit,
        ),
    )
    embedder = Embedder(settings.model, device=settings.device, batch_size=settings.embed_batch_size)

    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        report = _run(options, Store(str(work / "store"), embedder))
    else:
        # The evaluation never touches the user's own store: it indexes into a folder of its own.
        parent = settings.data_dir / "eval"
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="run-", dir=parent) as folder:
            report = _run(options, Store(str(Path(folder) / "store"), embedder))

    paths = write_report(report, out)
    header = f"{'ranker':32}" + "".join(f"{f'recall@{k}':>11}" for k in REPORTED_K) + f"{'hit@5':>8}{'MRR':>7}"
    typer.echo(
        f"{counted(len(report.results), 'task')} after cut {report.cut[:12]} "
        f"({counted(len(report.skipped), 'change')} skipped)"
    )
    typer.echo(header)
    for name, summary in report.summary.items():
        recalls = "".join(f"{summary.recall_at(k):>11.3f}" for k in REPORTED_K)
        typer.echo(f"{LABELS.get(name, name):32}{recalls}{summary.hit_at_5:>8.3f}{summary.mrr:>7.3f}")
    if (best := best_baseline(report)) is not None:
        margin = report.margins[best]
        unclear = "; it includes 0, so these tasks do not show the brief ahead" if margin.low <= 0 else ""
        typer.echo(
            f"recall@10 margin over the best baseline by recall@10 ({LABELS[best]}): {signed(margin.difference)}, "
            f"95% interval {signed(margin.low)} to {signed(margin.high)}{unclear}"
        )
    co, history = report.co_change, report.co_change_history
    typer.echo(f"co-change over {co.queries} queries: brief top-3 hit {co.top3_hit:.3f}, recall {co.recall:.3f}; "
               f"co-change counts alone top-3 hit {history.top3_hit:.3f}, recall {history.recall:.3f}")
    typer.echo("wrote " + ", ".join(str(path) for path in paths))


def _run(options: EvalOptions, store: Store) -> EvalReport:
    with Progress(
        TextColumn("[bold]replaying"), BarColumn(), MofNCompleteColumn(), TextColumn("tasks"), TimeElapsedColumn(),
        # Off when stderr is no terminal: a finished bar would leave a blank line before an error.
        console=stderr, transient=True, disable=not stderr.is_terminal,
    ) as progress:
        bar = progress.add_task("replay", total=None)
        return run_evaluation(options, store, on_progress=lambda done, total: progress.update(bar, completed=done, total=total))

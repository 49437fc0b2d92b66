"""Writing an evaluation as report.md, report.json and recall.png."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the chart is only written to a file

import matplotlib.pyplot as plt

from headstart.evaluation.metrics import DEPTH, REPORTED_K
from headstart.evaluation.runner import EvalReport

# Association-rule mining of version histories (Zimmermann, Weißgerber, Diehl and Zeller, "Mining
# Version Histories to Guide Software Changes", ICSE 2004, eight open-source projects): after an
# initial change, 26% of the further files predicted, and a correct location among the top three
# suggestions with a likelihood of 64%.
PUBLISHED_TOP3 = 0.64
PUBLISHED_RECALL = 0.26
# Below this many tasks the report warns that its means are rough.
SMALL_SAMPLE = 50

LABELS = {
    "headstart": "Headstart brief",
    "bm25_contents": "BM25 over file contents",
    "bm25_messages": "BM25 over past commit messages",
    "recent": "Most recently changed files",
}


def write_report(report: EvalReport, out: Path) -> list[Path]:
    """Write the Markdown report, the JSON and the recall chart into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    markdown = out / "report.md"
    data = out / "report.json"
    chart = out / "recall.png"
    markdown.write_text(render_markdown(report), encoding="utf-8")
    data.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    draw_recall(report, chart)
    return [markdown, data, chart]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def render_markdown(report: EvalReport) -> str:
    lines = [
        f"# Headstart evaluation: {report.repo}",
        "",
        (
            f"- Cut: `{report.cut[:12]}` ({report.cut_date:%Y-%m-%d}), first-parent commit {report.cut_position} "
            f"of {report.first_parent_commits}; head `{report.head[:12]}`."
        ),
        (
            f"- Later first-parent changes: {report.later_changes}; eligible tasks: {report.tasks_eligible}; "
            f"evaluated: {len(report.results)}; skipped: {len(report.skipped)}."
        ),
        (
            f"- Brief budget: {report.options['max_tokens']} tokens; brief size mean {report.brief_tokens['mean']:.0f}, "
            f"median {report.brief_tokens['median']:.0f}, max {report.brief_tokens['max']:.0f} tokens."
        ),
        f"- Time: indexing {report.index_seconds:.1f}s, replay {report.eval_seconds:.1f}s.",
        *_sample_warning(len(report.results)),
        "",
        "## Files: Headstart against the baselines",
        "",
        "| ranker | " + " | ".join(f"recall@{k}" for k in REPORTED_K) + " | hit@5 | all-found@10 | MRR |",
        "|---|" + "---:|" * (len(REPORTED_K) + 3),
    ]
    for name, summary in report.summary.items():
        recalls = " | ".join(_percent(summary.recall_at(k)) for k in REPORTED_K)
        lines.append(
            f"| {LABELS.get(name, name)} | {recalls} | {_percent(summary.hit_at_5)} | "
            f"{_percent(summary.all_found_at_10)} | {summary.mrr:.3f} |"
        )

    lines += _margin_lines(report)

    co = report.co_change
    history = report.co_change_history
    lines += [
        "",
        "## Co-change",
        "",
        (
            "Each query gives one file of a change. A hit is another file of the change among the first three "
            "suggestions, and recall is the share of the change's other files named."
        ),
        "",
        "| answered by | queries | top-3 hit | recall |",
        "|---|---:|---:|---:|",
        f"| the brief (task text and the file) | {co.queries} | {_percent(co.top3_hit)} | {_percent(co.recall)} |",
        (
            f"| co-change counts alone (the file only, top 10) | {history.queries} | {_percent(history.top3_hit)} "
            f"| {_percent(history.recall)} |"
        ),
        (
            f"| association rules, Zimmermann et al., ICSE 2004 (published) | | {_percent(PUBLISHED_TOP3)} "
            f"| {_percent(PUBLISHED_RECALL)} |"
        ),
        "",
        "## References",
        "",
        _references_line(report.tasks_with_references, report.reference_in_brief),
        "",
        "## Tasks",
        "",
        "| change | task | expected | " + " | ".join(f"{LABELS.get(name, name)} r@10" for name in report.summary) + " | tokens |",
        "|---|---|---:|" + "---:|" * (len(report.summary) + 1),
    ]
    for result in report.results:
        task = result.task
        text = _cell(task.text.splitlines()[0])
        recalls = " | ".join(_percent(result.scores[name].recall_at(10)) for name in report.summary)
        lines.append(f"| `{task.sha[:10]}` | {text} | {len(task.expected)} | {recalls} | {result.brief_tokens} |")

    lines += ["", "## Skipped changes", "", "| change | subject | reason |", "|---|---|---|"]
    for skipped in report.skipped:
        lines.append(f"| `{skipped.sha[:10]}` | {_cell(skipped.subject)} | {skipped.reason} |")
    return "\n".join(lines) + "\n"


def _cell(text: str, width: int = 70) -> str:
    """Fit text in a table cell: cut at `width` with an ellipsis, and escape the column bar."""
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    return text.replace("|", "\\|")


def best_baseline(report: EvalReport) -> str | None:
    """Return the baseline with the highest mean recall@10, or None when the report has no margins."""
    if not report.margins:
        return None
    return max(report.margins, key=lambda name: (report.summary[name].recall_at(DEPTH), name))


def signed(value: float) -> str:
    return f"{value:+.3f}"


def _margin_lines(report: EvalReport) -> list[str]:
    if not report.margins:
        return []
    lines = [
        "",
        "## Margin",
        "",
        (
            "Headstart's mean recall@10 minus each baseline's, on the same tasks, as a fraction (+0.100 is "
            "10 points of recall). The interval holds 95% of the margins from resampling the tasks in pairs "
            "(bootstrap): a margin whose interval stays above 0 is unlikely to be luck of the tasks drawn, "
            "and one whose interval includes 0 does not show Headstart ahead of that baseline."
        ),
        "",
        "| baseline | margin | 95% interval |",
        "|---|---:|---|",
    ]
    for name, margin in sorted(report.margins.items(), key=lambda item: item[1].difference):
        lines.append(f"| {LABELS.get(name, name)} | {signed(margin.difference)} | {signed(margin.low)} to {signed(margin.high)} |")
    return lines


def draw_recall(report: EvalReport, path: Path) -> None:
    """Plot mean recall@k for k = 1 … DEPTH, one line per ranker."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    ks = list(range(1, DEPTH + 1))
    for name, summary in report.summary.items():
        axes.plot(ks, summary.recall, marker="o", label=LABELS.get(name, name))
    axes.set_xlabel("k (files shown)")
    axes.set_ylabel("mean recall@k")
    axes.set_xticks(ks)
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.set_title(f"{report.repo}: recall@k over {len(report.results)} tasks")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _sample_warning(tasks: int) -> list[str]:
    if tasks >= SMALL_SAMPLE:
        return []
    return [
        f"- Only {tasks} task{'' if tasks == 1 else 's'}: one task more or less found moves a "
        f"mean by up to {100 / max(tasks, 1):.0f} points, so compare rankers on {SMALL_SAMPLE} "
        "or more (`--max-tasks`, an earlier cut)."
    ]


def _references_line(tasks: int, in_brief: float) -> str:
    if tasks == 0:
        return "No task points to an issue, pull request or commit."
    if tasks == 1:
        named = "names one of them" if in_brief else "names none of them"
        return f"1 task points to an issue, pull request or commit; its brief {named}."
    return (
        f"{tasks} tasks point to an issue, pull request or commit; for {_percent(in_brief)} "
        "of them the brief names one of those."
    )

"""Benchmark `headstart ledger ingest` on a generated Claude Code log tree with known totals.

The tree imitates real transcripts. Lines are compact JSON, and each API response is written as
several lines (content blocks, and streaming snapshots whose output count grows). Some responses
have no request id, subagent transcripts replay a parent's response under a new request id, and
there are synthetic lines that are not billed and a few corrupt lines. The script records the true totals
while it writes the tree, then:

1. ingests the tree into a new SQLite ledger in a child process (wall time, peak RSS);
2. ingests the unchanged tree again (wall time, bytes read);
3. checks the ledger's token totals, request count and computed cost against the truth;
4. if `npm install ccusage` works, runs `ccusage daily --json --offline` on the same tree.

Steps 1, 2 and 4 are repeated `--repeat` times, each round into a new ledger, and the medians
are reported. The ratio to ccusage is taken per round, from runs a minute apart at most.

Usage: python benchmarks/ledger_ingest.py [--size-mb 200] [--workdir DIR] [--keep] [--no-ccusage]
       [--ccusage-version VERSION] [--repeat N] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices

MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001")
WORDS = [
    "the",
    "parser",
    "reads",
    "each",
    "line",
    "and",
    "counts",
    "tokens",
    "once",
    "per",
    "response",
    "while",
    "the",
    "cache",
    "grows",
]


@dataclass
class Truth:
    """True totals of the generated tree: one entry per billed API response."""

    requests: int = 0
    input: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 0
    cost: Decimal = Decimal(0)
    lines: int = 0
    corrupt_lines: int = 0
    files: int = 0
    bytes: int = 0
    by_model: dict[str, int] = field(default_factory=dict)

    def add(self, model: str, usage: dict[str, Any], when: datetime) -> None:
        write_1h = usage["cache_creation"]["ephemeral_1h_input_tokens"]
        write_5m = usage["cache_creation"]["ephemeral_5m_input_tokens"]
        self.requests += 1
        self.input += usage["input_tokens"]
        self.cache_read += usage["cache_read_input_tokens"]
        self.cache_write_5m += write_5m
        self.cache_write_1h += write_1h
        self.output += usage["output_tokens"]
        self.by_model[model] = self.by_model.get(model, 0) + 1
        # genai-prices is the independent reference: its input includes cache reads and writes.
        prompt = usage["input_tokens"] + usage["cache_read_input_tokens"] + write_5m + write_1h
        price = genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=prompt,
                cache_read_tokens=usage["cache_read_input_tokens"],
                cache_write_tokens=write_5m + write_1h,
                cache_write_1h_tokens=write_1h,
                output_tokens=usage["output_tokens"],
            ),
            model,
            genai_request_timestamp=when,
        )
        self.cost += price.total_price


def text(rng: random.Random, length: int) -> str:
    words = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def dump(line: dict[str, Any]) -> str:
    return json.dumps(line, separators=(",", ":")) + "\n"


class Writer:
    """Writes sessions until the tree reaches the target size, tracking the truth."""

    def __init__(self, root: Path, target_bytes: int, seed: int) -> None:
        self.root = root
        self.target = target_bytes
        self.rng = random.Random(seed)
        self.truth = Truth()
        self.clock = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
        self.message_counter = 0
        self.sessions = 0

    def usage(self, final_output: int | None = None) -> dict[str, Any]:
        rng = self.rng
        write_1h = rng.choice((0, 0, 0, rng.randint(100, 20_000)))
        write_5m = rng.choice((0, rng.randint(100, 30_000)))
        return {
            "input_tokens": rng.randint(1, 400),
            "cache_creation_input_tokens": write_5m + write_1h,
            "cache_read_input_tokens": rng.randint(0, 150_000),
            "cache_creation": {
                "ephemeral_5m_input_tokens": write_5m,
                "ephemeral_1h_input_tokens": write_1h,
            },
            "output_tokens": final_output if final_output is not None else rng.randint(1, 4000),
            "service_tier": "standard",
        }

    def assistant(
        self,
        session: str,
        cwd: str,
        message_id: str,
        request_id: str | None,
        model: str,
        usage: dict[str, Any],
        content: list[dict[str, Any]],
        sidechain: bool,
    ) -> dict[str, Any]:
        line: dict[str, Any] = {
            "parentUuid": None,
            "isSidechain": sidechain,
            "userType": "external",
            "cwd": cwd,
            "sessionId": session,
            "version": "2.1.3",
            "gitBranch": "main",
            "type": "assistant",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": None,
                "usage": usage,
            },
            "uuid": f"{self.rng.getrandbits(64):016x}",
            "timestamp": self.clock.isoformat().replace("+00:00", "Z"),
        }
        if request_id is not None:
            line["requestId"] = request_id
        return line

    def user(self, session: str, cwd: str, tool_use_id: str) -> dict[str, Any]:
        return {
            "parentUuid": None,
            "isSidechain": False,
            "cwd": cwd,
            "sessionId": session,
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_use_id,
                        "content": text(self.rng, self.rng.randint(500, 4000)),
                    }
                ],
            },
            "uuid": f"{self.rng.getrandbits(64):016x}",
            "timestamp": self.clock.isoformat().replace("+00:00", "Z"),
        }

    def response_lines(
        self, session: str, cwd: str, model: str, sidechain: bool
    ) -> tuple[list[str], dict[str, Any], str]:
        """Write one API response as 1–4 lines; return them, its final usage and message id."""
        rng = self.rng
        self.message_counter += 1
        message_id = f"msg_{self.message_counter:012d}{rng.getrandbits(32):08x}"
        request_id = None if rng.random() < 0.15 else f"req_{rng.getrandbits(64):016x}"
        final = self.usage()
        lines: list[str] = []

        # Streaming snapshots: earlier lines carry a smaller output count.
        for _ in range(rng.choice((0, 0, 1, 2))):
            snapshot = {
                **final,
                "output_tokens": rng.randint(1, max(final["output_tokens"] - 1, 1)),
            }
            content = [{"type": "text", "text": text(rng, 200)}]
            lines.append(
                dump(
                    self.assistant(
                        session, cwd, message_id, request_id, model, snapshot, content, sidechain
                    )
                )
            )
        # Content blocks of the final response all repeat its usage.
        blocks = [{"type": "text", "text": text(rng, rng.randint(200, 900))}]
        if rng.random() < 0.6:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{rng.getrandbits(48):012x}",
                    "name": "Read",
                    "input": {"file_path": "/src/app.py"},
                }
            )
        for block in blocks:
            lines.append(
                dump(
                    self.assistant(
                        session, cwd, message_id, request_id, model, final, [block], sidechain
                    )
                )
            )
        self.truth.add(model, final, self.clock)
        return lines, final, message_id

    def session(self, project: Path, cwd: str) -> int:
        rng = self.rng
        session = f"{rng.getrandbits(128):032x}"
        session = f"{session[:8]}-{session[8:12]}-{session[12:16]}-{session[16:20]}-{session[20:]}"
        model = rng.choice(MODELS)
        out: list[str] = []
        replays: list[tuple[str, dict[str, Any]]] = []

        for _ in range(rng.randint(40, 160)):
            self.clock += timedelta(seconds=rng.randint(2, 90))
            lines, final, message_id = self.response_lines(session, cwd, model, sidechain=False)
            out.extend(lines)
            if rng.random() < 0.1:
                replays.append((message_id, final))
            out.append(dump(self.user(session, cwd, f"toolu_{rng.getrandbits(48):012x}")))
            if rng.random() < 0.05:
                synthetic = self.assistant(
                    session,
                    cwd,
                    f"msg_syn{rng.getrandbits(32):08x}",
                    None,
                    "<synthetic>",
                    {"input_tokens": 0, "output_tokens": 0},
                    [{"type": "text", "text": "No response requested."}],
                    False,
                )
                out.append(dump(synthetic))

        self.sessions += 1
        if self.sessions % 100 == 0:
            out.insert(
                rng.randrange(len(out)),
                '{"type":"assistant","message":{"id":"msg_torn","usage":{"input_tok\n',
            )
            self.truth.corrupt_lines += 1

        path = project / f"{session}.jsonl"
        written = self.write(path, out)

        if replays or rng.random() < 0.3:
            sub: list[str] = []
            for message_id, final in replays:
                # A replay of the parent's response under a new request id: not new usage.
                sub.append(
                    dump(
                        self.assistant(
                            session,
                            cwd,
                            message_id,
                            f"req_{rng.getrandbits(64):016x}",
                            model,
                            final,
                            [{"type": "text", "text": text(rng, 300)}],
                            True,
                        )
                    )
                )
            for _ in range(rng.randint(3, 20)):
                self.clock += timedelta(seconds=rng.randint(1, 30))
                lines, _, _ = self.response_lines(
                    session, cwd, "claude-haiku-4-5-20251001", sidechain=True
                )
                sub.extend(lines)
            written += self.write(
                project / session / "subagents" / f"agent-{rng.getrandbits(32):08x}.jsonl", sub
            )
        return written

    def write(self, path: Path, lines: list[str]) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(lines).encode()
        path.write_bytes(data)
        self.truth.files += 1
        self.truth.lines += len(lines)
        self.truth.bytes += len(data)
        return len(data)

    def run(self) -> Truth:
        projects = self.root / "projects"
        index = 0
        while self.truth.bytes < self.target:
            cwd = f"/home/dev/src/app-{index % 25}"
            self.session(projects / cwd.replace("/", "-"), cwd)
            index += 1
        return self.truth


def ingest_command(database: str, tree: Path, workers: int | None) -> list[str]:
    """Return the `headstart ledger ingest` command a user runs, reading only the generated tree."""
    command = [sys.executable, "-m", "headstart.cli", "ledger", "ingest", "--database", database]
    command += ["--claude-dir", str(tree), "--codex-home", str(tree), "--json"]
    if workers is not None:
        command += ["--workers", str(workers)]
    return command


# Runs a command and reports its peak memory: the sum of the proportional set size (PSS) of the
# command's process tree (it may fork workers), sampled every 50 ms, or the largest process's
# peak RSS if that is more. RUSAGE_CHILDREN of a fresh process covers only the command.
RSS_WRAPPER = """
import resource, subprocess, sys

def tree(pid):
    pids = [pid]
    for parent in pids:
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as handle:
                pids.extend(int(child) for child in handle.read().split())
        except OSError:
            pass
    return pids

def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

child = subprocess.Popen(sys.argv[1:])
peak = 0
while True:
    peak = max(peak, sum(pss_kb(pid) for pid in tree(child.pid)))
    try:
        child.wait(timeout=0.05)  # returns as soon as the command ends
        break
    except subprocess.TimeoutExpired:
        pass
peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(f"MAXRSS_KB={peak}", file=sys.stderr)
sys.exit(child.returncode)
"""


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; return its wall time, peak RSS in MB and stdout."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed with {done.returncode}: {done.stderr[-2000:]}")
    marker = [line for line in done.stderr.splitlines() if line.startswith("MAXRSS_KB=")]
    peak_mb = int(marker[-1].split("=", 1)[1]) // 1024 if marker else -1
    return elapsed, peak_mb, done.stdout


def ledger_totals(url: str) -> dict[str, Any]:
    from sqlalchemy import case, func, select

    from headstart.ledger.db import open_ledger
    from headstart.ledger.models import UsageRecord

    ledger = open_ledger(url)
    with ledger.session() as session:
        row = session.execute(
            select(
                func.count(),
                func.sum(UsageRecord.input_tokens),
                func.sum(UsageRecord.cache_read_tokens),
                func.sum(UsageRecord.cache_write_5m_tokens),
                func.sum(UsageRecord.cache_write_1h_tokens),
                func.sum(UsageRecord.output_tokens),
                func.sum(UsageRecord.computed_cost),
                func.sum(case((UsageRecord.priced.is_(False), 1), else_=0)),
            )
        ).one()
    ledger.close()
    names = (
        "requests",
        "input",
        "cache_read",
        "cache_write_5m",
        "cache_write_1h",
        "output",
        "cost",
        "unpriced",
    )
    return dict(zip(names, row, strict=True))


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    free = subprocess.run(
        ["free", "-h"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "free -h": free,
        "load average": " ".join(f"{load:.2f}" for load in os.getloadavg()),
        "python": platform.python_version(),
    }


def install_ccusage(workdir: Path, version: str) -> tuple[Path | None, str]:
    """Install ccusage with npm into `workdir`; return its binary and version, or None and why."""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm not found"
    install = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", f"ccusage@{version}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    binary = workdir / "node_modules" / ".bin" / "ccusage"
    if install.returncode != 0 or not binary.exists():
        return None, f"npm install ccusage failed: {install.stderr.strip()[-500:]}"
    package = json.loads((workdir / "node_modules" / "ccusage" / "package.json").read_text())
    return binary, package["version"]


def run_ccusage(binary: Path, version: str, tree: Path) -> dict[str, Any]:
    """Time `ccusage daily --json --offline` on the tree; a failure is returned, not raised."""
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "TZ": "UTC"}
    try:
        seconds, peak, stdout = run_child([str(binary), "daily", "--json", "--offline"], env=env)
    except RuntimeError as exc:
        return {"version": version, "failed": str(exc)[-600:]}
    data = json.loads(stdout)
    totals = data.get("totals", {})
    return {
        "version": version,
        "seconds": seconds,
        "peak_rss_mb": peak,
        "input": totals.get("inputTokens"),
        "cache_read": totals.get("cacheReadTokens"),
        "cache_write": totals.get("cacheCreationTokens"),
        "output": totals.get("outputTokens"),
        "cost": totals.get("totalCost"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-mb", type=int, default=200, help="Size of the generated tree in MB."
    )
    parser.add_argument("--seed", type=int, default=7, help="Seed of the generator.")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="Where to write the tree [default: a temp dir]."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the tree and ledger afterwards.")
    parser.add_argument("--no-ccusage", action="store_true", help="Do not install and run ccusage.")
    parser.add_argument(
        "--ccusage-version", default="latest", help="ccusage version to install from npm."
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="Rounds of first ingest, re-ingest and ccusage; medians are reported.",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Passed to `headstart ledger ingest --workers` [default: its own default].",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="headstart-bench-"))
    tree = workdir / "claude"
    ledger_file = workdir / "ledger.sqlite3"
    database = f"sqlite:///{ledger_file}"
    # A tree or ledger left in a reused --workdir would turn the first ingest into a re-ingest.
    shutil.rmtree(tree, ignore_errors=True)
    for leftover in (ledger_file, *workdir.glob("ledger.sqlite3-*")):
        leftover.unlink(missing_ok=True)
    try:
        started = time.perf_counter()
        truth = Writer(tree, args.size_mb * 1_000_000, args.seed).run()
        generated = time.perf_counter() - started
        print(
            f"generated {truth.bytes / 1e6:.1f} MB in {truth.files} files, {truth.lines} lines, "
            f"{truth.requests} billed responses in {generated:.1f} s",
            file=sys.stderr,
        )

        # Python's start-up and imports: `--help` loads what `ingest` loads, and reads nothing.
        startup_s, _, _ = run_child([*ingest_command(database, tree, None)[:4], "--help"])
        binary, ccusage_version = (
            (None, "--no-ccusage")
            if args.no_ccusage
            else install_ccusage(workdir, args.ccusage_version)
        )

        # On a shared machine the load changes from minute to minute, so each round times both
        # tools within the same minute, and the ratio is taken per round.
        rounds = []
        for _ in range(max(args.repeat, 1)):
            for leftover in (ledger_file, *workdir.glob("ledger.sqlite3-*")):
                leftover.unlink(missing_ok=True)
            load = os.getloadavg()[0]
            first_s, first_rss, first_out = run_child(ingest_command(database, tree, args.workers))
            second_s, second_rss, second_out = run_child(
                ingest_command(database, tree, args.workers)
            )
            ccusage = (
                run_ccusage(binary, ccusage_version, tree)
                if binary is not None
                else {"skipped": ccusage_version}
            )
            peer = ccusage.get("seconds")
            rounds.append(
                {
                    "load": round(load, 1),
                    "first_s": round(first_s, 2),
                    "first_rss_mb": first_rss,
                    "reingest_s": round(second_s, 2),
                    "reingest_rss_mb": second_rss,
                    "ccusage_s": round(peer, 2) if peer else None,
                    "ratio": round(first_s / peer, 2) if peer else None,
                    "reingest_ratio": round(second_s / first_s, 3),
                }
            )
        first = json.loads(first_out)
        second = json.loads(second_out)
        totals = ledger_totals(database)

        expected = {
            "requests": truth.requests,
            "input": truth.input,
            "cache_read": truth.cache_read,
            "cache_write_5m": truth.cache_write_5m,
            "cache_write_1h": truth.cache_write_1h,
            "output": truth.output,
            "cost": truth.cost,
            "unpriced": 0,
        }
        mismatches = {
            name: (totals[name], value) for name, value in expected.items() if totals[name] != value
        }

        def median_of(key: str) -> Any:
            values = [entry[key] for entry in rounds if entry[key] is not None]
            return statistics.median(values) if values else None

        result = {
            "machine": machine(),
            "tree": {
                "mb": round(truth.bytes / 1e6, 1),
                "files": truth.files,
                "lines": truth.lines,
                "billed_responses": truth.requests,
                "corrupt_lines": truth.corrupt_lines,
            },
            "truth": {key: str(value) for key, value in expected.items()},
            "headstart_startup_seconds": round(startup_s, 2),
            "headstart_first": {
                "seconds_median": median_of("first_s"),
                "peak_rss_mb_max": max(entry["first_rss_mb"] for entry in rounds),
                "skipped": first["skipped"],
                "files_read": first["files_read"],
            },
            "headstart_reingest": {
                "seconds_median": median_of("reingest_s"),
                "peak_rss_mb_max": max(entry["reingest_rss_mb"] for entry in rounds),
                "bytes_read": second["bytes_read"],
                "files_unchanged": second["files_unchanged"],
                "ratio_to_first_median": median_of("reingest_ratio"),
            },
            "ratio_to_ccusage_median": median_of("ratio"),
            "rounds": rounds,
            "totals_equal_truth": not mismatches,
            "mismatches": {key: [str(a), str(b)] for key, (a, b) in mismatches.items()},
            "ccusage": {key: str(value) for key, value in ccusage.items()},
            "command": " ".join([sys.executable, *sys.argv]),
        }
        print(json.dumps(result, indent=2))
        return 0 if not mismatches else 1
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

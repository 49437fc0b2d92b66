"""Measure indexing and briefs on a real repository, each beside a reference run on the same input.

    python benchmarks/index_and_brief.py REPO [--work DIR] [--briefs 200] [--sample 3000]
    python benchmarks/index_and_brief.py REPO --work DIR --briefs-only   # reuse DIR's index
    python benchmarks/index_and_brief.py REPO --walk-only   # the walk, with and without renames

Prints one JSON object with every figure and writes it to DIR/index_and_brief.json:
history walk against `git log --numstat --no-renames`, embedding against raw
`SentenceTransformer.encode` on the same texts, a full index with the peak memory of its whole
process tree, a no-op re-index, and brief latency through a warm `headstart serve --http`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pygit2

from headstart.indexers.repository import open_repository
from headstart.indexers.walk import read_commits
from headstart.store import Embedder
from headstart.store.schema import search_text


def machine() -> dict:
    return {
        "cpu": platform.processor() or _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def history_walk(repo_path: Path) -> dict:
    """Read every commit with its numstat, once with git and once with Headstart's reader."""
    started = time.perf_counter()
    subprocess.run(
        ["git", "-C", str(repo_path), "log", "--numstat", "--no-renames", "--format=%H%n%an%n%ae%n%ct%n%B"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    git_seconds = time.perf_counter() - started

    opened = open_repository(repo_path)
    shas = [str(commit.id) for commit in opened.repo.walk(opened.head.id, pygit2.enums.SortMode.TOPOLOGICAL)]
    started = time.perf_counter()
    records = list(read_commits(opened.repo, shas, opened.name))
    headstart_seconds = time.perf_counter() - started
    return {
        "commits": len(shas),
        "git_log_seconds": round(git_seconds, 2),
        "headstart_seconds": round(headstart_seconds, 2),
        "headstart_commits_per_second": round(len(shas) / headstart_seconds, 1),
        "ratio_of_git_speed": round(git_seconds / headstart_seconds, 3),
        "_records": records,
    }


def walk_only(args: argparse.Namespace) -> None:
    """Time the history walk alone, also without rename detection, to show what detection costs."""
    from headstart.indexers import commits

    walk = history_walk(args.repo)
    walk.pop("_records")
    default_limit = commits.RENAME_DETECTION_FILES
    commits.RENAME_DETECTION_FILES = 0
    try:
        without = history_walk(args.repo)
    finally:
        commits.RENAME_DETECTION_FILES = default_limit
    without.pop("_records")
    walk["without_rename_detection"] = without
    print(json.dumps({"repo": str(args.repo), "machine": machine(), "history_walk": walk}, indent=2))


def embedding(records: list, sample: int) -> dict:
    """Encode the same texts through Headstart's embedder and through the raw model."""
    texts = [search_text(record) for record in records[:sample]]
    embedder = Embedder("all-MiniLM-L6-v2")
    model = embedder.model
    model.encode(texts[:64], batch_size=64)  # warm-up for both

    started = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    raw_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for start in range(0, len(texts), 512):  # the batch size the index pipeline uses
        embedder.encode(texts[start : start + 512])
    headstart_seconds = time.perf_counter() - started
    return {
        "texts": len(texts),
        "raw_encode_texts_per_second": round(len(texts) / raw_seconds, 1),
        "headstart_texts_per_second": round(len(texts) / headstart_seconds, 1),
        "ratio_of_raw_speed": round(raw_seconds / headstart_seconds, 3),
    }


def _run_measured(command: list[str], env: dict) -> tuple[float, int, str]:
    """Run a command, sampling the resident memory of it and all its children; return seconds, peak bytes, stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    parent = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(member.memory_info().rss for member in tree if member.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    output = process.stdout.read().decode() if process.stdout else ""
    if process.returncode != 0:
        raise RuntimeError(f"{command} exited with {process.returncode}")
    return time.perf_counter() - started, peak, output


def full_index(repo_path: Path, work: Path) -> dict:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    env = {**os.environ, "HEADSTART_DATA_DIR": str(data), "HEADSTART_CONFIG": os.devnull}
    headstart = str(Path(sys.executable).parent / "headstart")

    seconds, peak, output = _run_measured([headstart, "index", str(repo_path)], env)
    noop_seconds, _, noop_output = _run_measured([headstart, "index", str(repo_path)], env)
    return {
        "full_index_seconds": round(seconds, 1),
        "full_index_peak_rss_mb": round(peak / 2**20),
        "full_index_output": output.strip(),
        "noop_reindex_seconds": round(noop_seconds, 2),
        "noop_reindex_output": noop_output.strip(),
        "_env": env,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def brief_latency(repo_path: Path, env: dict, tasks: list[str]) -> dict:
    """Start the HTTP server, warm it with one brief, then time one brief per task."""
    port = _free_port()
    headstart = str(Path(sys.executable).parent / "headstart")
    server = subprocess.Popen(
        [headstart, "serve", "--http", "--host", "127.0.0.1", "--port", str(port), "--repo", str(repo_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            client.post("/v1/briefs", json={"task": "warm up the model"}).raise_for_status()

            latencies = []
            for task in tasks:
                started = time.perf_counter()
                client.post("/v1/briefs", json={"task": task}).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
        rss = psutil.Process(server.pid).memory_info().rss
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()
    return {
        "briefs": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1),
        "max_ms": round(latencies[-1], 1),
        "server_rss_mb_after": round(rss / 2**20),
    }


def brief_only(args: argparse.Namespace) -> None:
    """Time briefs against the index in `args.work`, with the same tasks a full run uses."""
    data = args.work / "data"
    if not data.exists():
        raise SystemExit(f"no index in {data}; run once without --briefs-only first")
    env = {**os.environ, "HEADSTART_DATA_DIR": str(data), "HEADSTART_CONFIG": os.devnull}
    opened = open_repository(args.repo)
    commits = opened.repo.walk(opened.head.id, pygit2.enums.SortMode.TOPOLOGICAL)
    subjects = [commit.message.split("\n", 1)[0] for commit in commits]
    tasks = [subject for subject in subjects[: args.briefs * 3 : 3] if subject][: args.briefs]
    result = {"repo": str(args.repo), "machine": machine(), "brief_latency": brief_latency(args.repo, env, tasks)}
    print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/headstart-bench"))
    parser.add_argument("--briefs", type=int, default=200)
    parser.add_argument("--sample", type=int, default=3000, help="Texts for the embedding comparison.")
    parser.add_argument(
        "--briefs-only", action="store_true", help="Only time briefs, on the index an earlier run left in --work."
    )
    parser.add_argument(
        "--walk-only",
        action="store_true",
        help="Only time the history walk, with and without rename detection, against git log.",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.briefs_only:
        brief_only(args)
        return
    if args.walk_only:
        walk_only(args)
        return

    result: dict = {"repo": str(args.repo), "machine": machine()}
    walk = history_walk(args.repo)
    records = walk.pop("_records")
    result["history_walk"] = walk
    result["embedding"] = embedding(records, args.sample)
    index = full_index(args.repo, args.work)
    env = index.pop("_env")
    result["index"] = index

    # Tasks are the subjects of real commits, oldest of the sample first.
    tasks = [record.title for record in records[: args.briefs * 3 : 3] if record.title][: args.briefs]
    result["brief_latency"] = brief_latency(args.repo, env, tasks)

    text = json.dumps(result, indent=2)
    (args.work / "index_and_brief.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

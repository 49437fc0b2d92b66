"""A ledger and a git repository whose outcomes are known, for the report tests.

Prices are the illustrative ones of tests/ledger/conftest.py: test-sonnet input costs $3 per
million tokens and test-opus $5, so each session's cost below is exact.

| session | who  | tool        | day (March 2024) | cost   | what it produced                          | class       |
|---------|------|-------------|------------------|--------|-------------------------------------------|-------------|
| s1      | ada  | claude_code | 4                | $3     | feat on feature/login, merged as PR #12   | productive  |
| s2      | ada  | claude_code | 5                | $30    | feat (#13) on main, 10x the feature median | inefficient |
| s3      | ada  | claude_code | 6                | $3     | feat on main                              | productive  |
| s4      | ada  | claude_code | 7                | $6     | fix (#14), re-fixed by bob on the 10th    | inefficient |
| s5      | ada  | cursor      | 8                | $5     | opus renaming a file                      | inefficient |
| s6      | ada  | cursor      | 9                | $3     | feat reverted by bob on the 10th          | wasteful    |
| s7      | bob  | codex       | 11               | $1.50  | the same failing call three times         | wasteful    |
| s8      | bob  | codex       | 12               | $1.50  | no commit                                 | wasteful    |
| s10     | bob  | codex       | 13               | $3     | task "Fix login redirect", abandoned      | wasteful    |
| s9      | ada  | claude_code | April 15         | $3     | nothing yet, two hours before NOW         | pending     |

Plus one request of ada's outside any session on March 11 ($3). s1 and s3 received a brief.
ada is in team platform (budget $100 a month) and bob in team web (budget $5 a month).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo

from headstart.ledger.db import Ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.pricing import PriceBook
from headstart.ledger.reports import ReportSettings, analyze_outcomes
from headstart.ledger.tasks import finish_task, start_task
from headstart.ledger.teams import TeamMap

NOW = datetime(2024, 4, 15, 10, 0, tzinfo=UTC)
ADA = "ada@example.com"
BOB = "bob@example.com"
BOB_AUTHOR = "Bob <bob@example.com>"
BRIEF = "hsb_0123456789abcdef"
TEAMS_TOML = """
[teams.platform]
members = ["ada@example.com"]
budget_usd = 100

[teams.web]
members = ["bob@example.com"]
budget_usd = 5
budget_period = "month"
"""
# Low enough for the scenario's three successful feature sessions to have a median.
SETTINGS = ReportSettings(min_peers=3)


def march(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def commit_at(
    repo: GitRepo,
    when: datetime,
    message: str,
    files: dict[str, str] | None = None,
    *,
    author: str | None = None,
) -> str:
    for path, content in (files or {}).items():
        repo.write(path, content)
        repo.git("add", path)
    # GitRepo's clock moves one hour forward before each git command.
    repo.clock = when.timestamp() - 3600
    args = ["commit", "-q", "--allow-empty", "-m", message]
    if author:
        args += ["--author", author]
    repo.git(*args)
    return repo.git("rev-parse", "HEAD")


def build_repository(repo: GitRepo) -> dict[str, str]:
    """Make the history of the table above and return the shas by name."""
    shas: dict[str, str] = {}
    commit_at(
        repo,
        datetime(2024, 3, 1, tzinfo=UTC),
        "Initial commit",
        {
            "README.md": "app\n",
            "src/util.py": "def helper():\n    return 1\n",
            "src/auth.py": "x = 1\n",
        },
    )
    repo.git("checkout", "-q", "-b", "feature/login")
    shas["s1"] = commit_at(repo, march(4, 9, 30), "feat: add login", {"src/login.py": "login\n"})
    repo.git("checkout", "-q", "main")
    repo.clock = march(5, 8).timestamp() - 3600
    repo.git(
        "merge", "-q", "--no-ff", "feature/login", "-m", "Merge pull request #12 from acme/login"
    )

    shas["s2"] = commit_at(
        repo, march(5, 9, 30), "feat: add signup (#13)", {"src/signup.py": "s\n"}
    )
    shas["s3"] = commit_at(repo, march(6, 9, 30), "feat: add logout", {"src/logout.py": "o\n"})
    shas["s4"] = commit_at(
        repo, march(7, 9, 30), "fix: handle empty token (#14)", {"src/auth.py": "x = 2\n"}
    )
    repo.git("mv", "src/util.py", "src/lib_util.py")
    repo.clock = march(8, 9, 30).timestamp() - 3600
    repo.git("commit", "-q", "-m", "refactor: move helpers")
    shas["s5"] = repo.git("rev-parse", "HEAD")
    shas["s6"] = commit_at(repo, march(9, 9, 30), "feat: add cache", {"src/cache.py": "c\n"})

    shas["refix"] = commit_at(
        repo,
        march(10, 12),
        # A fix by its body only: the rework check reads the whole message.
        "Handle an empty token in auth\n\nFixes #15",
        {"src/auth.py": "x = 3\n"},
        author=BOB_AUTHOR,
    )
    repo.git("rm", "-q", "src/cache.py")
    shas["revert"] = commit_at(
        repo,
        march(10, 15),
        f'Revert "feat: add cache"\n\nThis reverts commit {shas["s6"]}.',
        author=BOB_AUTHOR,
    )
    return shas


def usage(
    session: str | None,
    when: datetime,
    tokens: int,
    *,
    engineer: str = ADA,
    tool: str = "claude_code",
    model: str = "test-sonnet",
    cwd: Path,
    branch: str = "main",
    briefs: list[str] | None = None,
    attributes: dict[str, Any] | None = None,
    number: int = 0,
) -> UsageEvent:
    return UsageEvent(
        source="test",
        dedup_key=f"test:{session}:{number}:{when.isoformat()}",
        tool=tool,
        timestamp=when,
        model=model,
        session_id=session,
        input_tokens=tokens,
        engineer=engineer,
        repository="github.com/acme/app",
        branch=branch,
        cwd=str(cwd),
        brief_ids=briefs or [],
        attributes=attributes or {},
    )


def session_events(
    name: str, start: datetime, cost_usd: Decimal, *, per_mtok: int = 3, **options: Any
) -> list[UsageEvent]:
    """Two requests an hour apart that together cost `cost_usd`; the first carries `attributes`."""
    tokens = int(cost_usd / per_mtok * 1_000_000) // 2
    attributes = options.pop("attributes", None)
    return [
        usage(name, start, tokens, number=0, attributes=attributes, **options),
        usage(name, start + timedelta(hours=1), tokens, number=1, **options),
    ]


def build_ledger(ledger: Ledger, repo: GitRepo, prices_file: Path, tmp_path: Path) -> TeamMap:
    """Record the sessions of the table above, analyze them at NOW, and return the teams."""
    teams_file = tmp_path / "teams.toml"
    teams_file.write_text(TEAMS_TOML)
    teams = TeamMap.load(teams_file)
    cwd = repo.path
    loop = {"failed_calls": ["Bash:0a1b2c3d4e5f"] * 3, "errors": ["e1", "e2", "e3"]}
    events = [
        *session_events(
            "s1", march(4), Decimal(3), cwd=cwd, branch="feature/login", briefs=[BRIEF]
        ),
        *session_events("s2", march(5), Decimal(30), cwd=cwd),
        *session_events("s3", march(6), Decimal(3), cwd=cwd, briefs=[BRIEF]),
        *session_events("s4", march(7), Decimal(6), cwd=cwd),
        *session_events(
            "s5", march(8), Decimal(5), per_mtok=5, cwd=cwd, tool="cursor", model="test-opus"
        ),
        *session_events("s6", march(9), Decimal(3), cwd=cwd, tool="cursor"),
        *session_events(
            "s7", march(11), Decimal("1.5"), cwd=cwd, engineer=BOB, tool="codex", attributes=loop
        ),
        *session_events(
            "s8",
            march(12),
            Decimal("1.5"),
            cwd=cwd,
            engineer=BOB,
            tool="codex",
            branch="feature/search",
        ),
        *session_events("s10", march(13), Decimal(3), cwd=cwd, engineer=BOB, tool="codex"),
        *session_events("s9", NOW - timedelta(hours=3), Decimal(3), cwd=cwd),
        usage(None, march(11, 12), 1_000_000, cwd=cwd),
    ]
    record_events(ledger, events, prices=PriceBook(prices_file), teams=teams)

    task = start_task(ledger, "Fix login redirect", engineer=BOB, session_id="s10")
    finish_task(ledger, task, "abandoned")
    with ledger.session() as session:
        analyze_outcomes(session, settings=SETTINGS, now=NOW)
    return teams


def sqlite_scenario(root: Path) -> tuple[str, Path]:
    """Build the scenario in a SQLite ledger under `root`; return its URL and the teams file."""
    from tests.ledger.conftest import ILLUSTRATIVE_PRICES

    from headstart.ledger.db import open_ledger

    (root / "repo").mkdir(parents=True)
    repo = GitRepo(root / "repo")
    repo.git("init", "-q", "-b", "main")
    build_repository(repo)
    prices = root / "prices.toml"
    prices.write_text(ILLUSTRATIVE_PRICES)
    url = f"sqlite:///{root / 'ledger.sqlite3'}"
    ledger = open_ledger(url)
    try:
        build_ledger(ledger, repo, prices, root)
    finally:
        ledger.close()
    return url, root / "teams.toml"

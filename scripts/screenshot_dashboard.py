"""Take the screenshot of the dashboard's overview in docs/dashboard.png, from DEMO DATA.

Every figure in the screenshot is made up here: eight invented teams, their engineers, tools
and models, and 90 days of sessions drawn from a seeded random generator, with briefs coming
into use half-way through. The page is stamped "Demo data" before the screenshot is taken.

The script fills a throw-away ledger, serves the app on a free loopback port, signs in with
headless Chromium (Debian's `chromium`, driven by Playwright) and saves a full-page PNG.

Usage: python scripts/screenshot_dashboard.py [--output docs/dashboard.png] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright
from sqlalchemy.orm import Session

from headstart.config import Settings
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.models import AgentSession, Engineer, Team, UsageRecord, WorkOutcome
from headstart.server.app import build_app

DEMO_TOKEN = "demo-admin-token"
FIRST_DAY = date(2026, 9, 1)
DAYS = 90
BRIEFS_FROM = FIRST_DAY + timedelta(days=45)

# Invented teams: (name, engineers, sessions per working day, monthly budget in USD).
DEMO_TEAMS = [
    ("platform", 6, 9, 2500),
    ("payments", 5, 7, 1500),
    ("mobile", 4, 5, 1200),
    ("search", 4, 4, 900),
    ("data", 5, 6, 2000),
    ("growth", 3, 3, 600),
    ("infra", 3, 4, 1000),
    ("web", 4, 5, 1100),
]
# Invented tools and models with their cost per session (USD, median) and success odds.
DEMO_TOOLS = [
    ("claude-code", "claude-sonnet-4-5", 1.60, 0.72),
    ("claude-code", "claude-opus-4-1", 5.50, 0.75),
    ("codex", "gpt-5", 1.30, 0.64),
    ("cursor", "gpt-5-mini", 0.35, 0.48),
    ("gemini-cli", "gemini-2.5-pro", 0.90, 0.55),
]
WORK_TYPES = ["feature", "bugfix", "refactor", "test", "docs", "chore"]


def write_teams_file(path: Path) -> Path:
    path.write_text(
        "".join(f"[teams.{name}]\nbudget_usd = {budget}\n\n" for name, _, _, budget in DEMO_TEAMS)
    )
    return path


def fill_demo_ledger(ledger: Ledger, seed: int = 2026) -> None:
    """Write the demo teams, engineers, sessions, usage and outcomes (seeded, repeatable)."""
    rng = random.Random(seed)
    with ledger.session() as session:
        for team_name, engineers, per_day, _budget in DEMO_TEAMS:
            team = Team(name=team_name)
            session.add(team)
            session.flush()
            people = [
                Engineer(identity=f"{team_name}-dev{number}@example.com", team_id=team.id)
                for number in range(1, engineers + 1)
            ]
            session.add_all(people)
            session.flush()

            for offset in range(DAYS):
                day = FIRST_DAY + timedelta(days=offset)
                # Fewer sessions at weekends, and slow growth over the quarter.
                weight = (0.25 if day.weekday() >= 5 else 1.0) * (1 + offset / DAYS * 0.6)
                for number in range(max(0, round(rng.gauss(per_day * weight, 1.5)))):
                    _demo_session(session, rng, team, rng.choice(people), day, number)


def _demo_session(
    session: Session,
    rng: random.Random,
    team: Team,
    engineer: Engineer,
    day: date,
    number: int,
) -> None:
    tool, model, median_cost, success = rng.choice(DEMO_TOOLS)
    has_brief = day >= BRIEFS_FROM and rng.random() < 0.7
    # Sessions with a brief are drawn cheaper and a little more often successful.
    cost = Decimal(
        str(round(median_cost * rng.lognormvariate(0, 0.6) * (0.8 if has_brief else 1), 4))
    )
    tokens = int(float(cost) * rng.uniform(180_000, 260_000))
    roll = rng.random() - (0.06 if has_brief else 0)
    if roll < success * 0.8:
        classification = "productive"
    elif roll < success:
        classification = "inefficient"
    elif roll < success + 0.06:
        classification = "pending"
    else:
        classification = "wasteful"
    started = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(
        minutes=rng.randrange(0, 9 * 60)
    )

    agent_session = AgentSession(
        tool=tool,
        external_id=f"demo-{engineer.identity}-{day.isoformat()}-{number}",
        engineer_id=engineer.id,
        team_id=team.id,
        first_seen=started,
        last_seen=started + timedelta(minutes=40),
    )
    session.add(agent_session)
    session.flush()
    session.add(
        UsageRecord(
            dedup_key=f"demo:{agent_session.external_id}",
            source="demo",
            tool=tool,
            model=model,
            timestamp=started,
            session_id=agent_session.id,
            input_tokens=tokens,
            computed_cost=cost,
            priced=True,
            engineer_id=engineer.id,
            team_id=team.id,
        )
    )
    merged = classification in ("productive", "inefficient")
    session.add(
        WorkOutcome(
            id=f"session:{agent_session.id}",
            unit="session",
            session_id=agent_session.id,
            counted=True,
            tool=tool,
            model=model,
            team_id=team.id,
            engineer_id=engineer.id,
            started_at=started,
            ended_at=started + timedelta(minutes=40),
            work_type=rng.choice(WORK_TYPES),
            classification=classification,
            reasons=["demo data"],
            requests=1,
            tokens=tokens,
            cost=cost,
            commits=int(merged) + rng.randrange(0, 3),
            pull_requests=int(merged),
            merged_pull_requests=int(merged),
            merged=merged,
            reworked=merged and rng.random() < (0.08 if has_brief else 0.15),
            first_try=merged and rng.random() < (0.7 if has_brief else 0.55),
            has_brief=has_brief,
        )
    )


def serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit(f"the demo server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--chromium", default=shutil.which("chromium"))
    arguments = parser.parse_args()
    if not arguments.chromium:
        raise SystemExit("chromium not found: apt-get install chromium, or pass --chromium PATH")

    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        settings = Settings(
            data_dir=root, api_token=DEMO_TOKEN, teams_file=write_teams_file(root / "teams.toml")
        )
        ledger = open_ledger(settings.ledger_database_url)
        try:
            fill_demo_ledger(ledger)
        finally:
            ledger.close()

        server, thread, base_url = serve(settings)
        try:
            last_day = FIRST_DAY + timedelta(days=DAYS - 1)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=arguments.chromium)
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                page.goto(
                    f"{base_url}/dashboard/login?token={DEMO_TOKEN}&next="
                    f"/dashboard%3Fstart%3D{FIRST_DAY}%26end%3D{last_day}"
                    f"%26split%3D{BRIEFS_FROM}"
                )
                page.evaluate(
                    """() => {
                        const stamp = document.createElement("strong");
                        stamp.textContent = "Demo data";
                        stamp.style.cssText = "background:#E69F00;color:#000;padding:2px 8px;";
                        document.querySelector("header").appendChild(stamp);
                    }"""
                )
                arguments.output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(arguments.output), full_page=True)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    print(f"saved {arguments.output}")


if __name__ == "__main__":
    main()

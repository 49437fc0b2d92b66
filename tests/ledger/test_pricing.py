from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest

from headstart.ledger.errors import LedgerInputError
from headstart.ledger.events import UsageEvent
from headstart.ledger.pricing import PriceBook

WHEN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def event(model: str, **tokens: int) -> UsageEvent:
    return UsageEvent(
        source="test", dedup_key="k", tool="claude_code", timestamp=WHEN, model=model, **tokens
    )


def test_one_hour_writes_cost_twice_input(prices: PriceBook) -> None:
    result = prices.price(event("test-opus", cache_write_1h_tokens=1_000_000))

    assert result.cost == Decimal(10)


def test_cache_writes_not_input_too(prices: PriceBook) -> None:
    result = prices.price(
        event("test-sonnet", input_tokens=3, cache_write_5m_tokens=12304, output_tokens=550)
    )

    assert result.cost == Decimal("0.054399")


def test_long_context_tier_whole_request(prices: PriceBook) -> None:
    result = prices.price(event("test-long", input_tokens=250_000, output_tokens=10_000))

    assert result.cost == Decimal("1.725")


def test_tier_counts_cached_prompt(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[models."m"]\ninput_mtok = 3\noutput_mtok = 15\ncache_read_mtok = 0.3\n'
        '[[models."m".tiers]]\nabove_input_tokens = 200000\ninput_mtok = 6\noutput_mtok = 22.5\n'
        "cache_read_mtok = 0.6\n"
    )
    book = PriceBook(path)

    # 1,000 uncached + 250,000 cache reads is a 251k-token prompt, so the tier applies.
    above = book.price(event("m", input_tokens=1000, cache_read_tokens=250_000))
    below = book.price(event("m", input_tokens=1000, cache_read_tokens=150_000))

    assert above.cost == Decimal("0.156")
    assert below.cost == Decimal("0.048")


def test_no_tier_without_one(prices: PriceBook) -> None:
    result = prices.price(event("test-sonnet", input_tokens=250_000, output_tokens=10_000))

    assert result.cost == Decimal("0.9")


@pytest.mark.parametrize(
    "model",
    ["claude-opus-9", "claude-sonnet-4-9", "claude-opus-4-50", "gpt-6-codex", "gemini-4-pro"],
)
def test_unknown_model_unpriced(prices: PriceBook, model: str) -> None:
    result = prices.price(event(model, input_tokens=1000, output_tokens=100))

    assert result.cost is None
    assert result.priced is False
    assert "price override" in (result.note or "")
    assert model in (result.note or "")


def test_missing_model_unpriced(prices: PriceBook) -> None:
    result = prices.price(
        UsageEvent(source="t", dedup_key="k", tool="codex", timestamp=WHEN, input_tokens=5)
    )

    assert result.cost is None


def test_codex_cached_input_cost(prices: PriceBook) -> None:
    # 1,000,000 input with 800,000 cached arrives as 200,000 uncached + 800,000 cache reads.
    result = prices.price(event("test-codex", input_tokens=200_000, cache_read_tokens=800_000))

    assert result.cost == Decimal("0.35")


def test_reasoning_not_billed_twice(prices: PriceBook) -> None:
    result = prices.price(event("test-codex", output_tokens=125, reasoning_tokens=75))

    assert result.cost == Decimal("0.00125")


def test_missing_rate_leaves_unpriced(prices: PriceBook) -> None:
    # test-long has no cache-write rates; guessing one is how TTL mistakes happen.
    result = prices.price(event("test-long", cache_write_1h_tokens=1000))

    assert result.cost is None
    assert "cache_write_1h_mtok" in (result.note or "")


def test_override_matches_dated_id(prices: PriceBook) -> None:
    result = prices.price(event("test-sonnet-20261001", output_tokens=1_000_000))

    assert result.cost == Decimal(15)
    assert result.price_version == "override illustrative (prices.toml)"


def test_override_no_prefix_match(prices: PriceBook) -> None:
    result = prices.price(event("test-sonnet-5", output_tokens=1000))

    assert result.cost is None


def test_override_beats_bundled(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."claude-sonnet-4-5"]\ninput_mtok = 1\noutput_mtok = 2\n')

    result = PriceBook(path).price(event("claude-sonnet-4-5-20250929", input_tokens=1_000_000))

    assert result.cost == Decimal(1)


@pytest.mark.parametrize(
    "content, message",
    [
        ('[models."x"]\ninput_mtok = 1\n', "output_mtok"),
        ('[models."x"]\ninput_mtok = "cheap"\noutput_mtok = 1\n', "'cheap'"),
        ('[models."x"]\ninput_mtok = -1\noutput_mtok = 1\n', "-1"),
        ("models = [", "invalid TOML"),
    ],
)
def test_bad_override_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(content)

    with pytest.raises(LedgerInputError, match=message) as caught:
        PriceBook(path)
    assert "prices.toml" in str(caught.value)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(LedgerInputError, match="nope.toml"):
        PriceBook(tmp_path / "nope.toml")


def test_bundled_one_hour_rate() -> None:
    book = PriceBook()
    input_cost = book.price(event("claude-opus-4-5", input_tokens=1_000_000)).cost
    write_cost = book.price(event("claude-opus-4-5", cache_write_1h_tokens=1_000_000)).cost

    assert input_cost is not None
    assert write_cost == 2 * input_cost


@pytest.mark.parametrize(
    "model, tokens",
    [
        (
            "claude-sonnet-4-5-20250929",
            {
                "input_tokens": 3,
                "cache_write_5m_tokens": 12304,
                "cache_read_tokens": 9000,
                "output_tokens": 550,
            },
        ),
        (
            "claude-sonnet-4-5-20250929",
            {"input_tokens": 150_000, "cache_read_tokens": 100_000, "output_tokens": 2000},
        ),
        (
            "claude-opus-4-5",
            {"input_tokens": 10, "cache_write_1h_tokens": 5000, "output_tokens": 20},
        ),
        ("gpt-5", {"input_tokens": 200_000, "cache_read_tokens": 800_000, "output_tokens": 125}),
        (
            "gemini-2.5-pro",
            {"input_tokens": 300_000, "cache_read_tokens": 1000, "output_tokens": 10},
        ),
    ],
)
def test_bundled_matches_genai_prices(model: str, tokens: dict[str, int]) -> None:
    ours = PriceBook().price(event(model, **tokens)).cost
    writes = tokens.get("cache_write_5m_tokens", 0) + tokens.get("cache_write_1h_tokens", 0)
    usage = genai_prices.Usage(
        input_tokens=tokens.get("input_tokens", 0) + tokens.get("cache_read_tokens", 0) + writes,
        cache_read_tokens=tokens.get("cache_read_tokens", 0),
        cache_write_tokens=writes,
        cache_write_1h_tokens=tokens.get("cache_write_1h_tokens", 0),
        output_tokens=tokens.get("output_tokens", 0),
    )
    theirs = genai_prices.calc_price(usage, model, genai_request_timestamp=WHEN).total_price

    assert ours == theirs

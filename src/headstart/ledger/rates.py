"""Per-token rates of one model and the arithmetic that turns a request into dollars."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

MTOK = Decimal(1_000_000)

# Rate names follow genai-prices' price keys (USD per million tokens).
RATE_KEYS = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
)


@dataclass(frozen=True)
class Tier:
    """Rates that replace the base rates once a request's whole prompt exceeds `above`."""

    above: int
    rates: dict[str, Decimal]


@dataclass(frozen=True)
class Rates:
    """Base rates in USD per million tokens, optional per-request fee, and long-context tiers."""

    base: dict[str, Decimal]
    tiers: tuple[Tier, ...] = field(default=())
    per_request: Decimal = Decimal(0)

    def for_prompt(self, prompt_tokens: int) -> dict[str, Decimal]:
        """Return the rates that apply to a request whose prompt has `prompt_tokens` tokens.

        A tier applies to the whole request, not only to the tokens above its threshold, and
        the prompt counts uncached input, cache reads and cache writes together. The result
        may be `base` itself, so it must not be changed.
        """
        # Most requests stay below every tier, and this runs per request: return the base rates
        # themselves then, which callers only read.
        applicable = [tier for tier in self.tiers if prompt_tokens > tier.above]
        if not applicable:
            return self.base
        rates = dict(self.base)
        for tier in sorted(applicable, key=lambda tier: tier.above):
            rates.update(tier.rates)
        return rates


@dataclass(frozen=True)
class TokenCounts:
    """Token counts in the ledger's convention (input is uncached, output includes reasoning)."""

    input: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 0

    @property
    def prompt(self) -> int:
        return self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h


class MissingRate(Exception):
    """A request has tokens of a kind its price table gives no rate for."""

    def __init__(self, rate_key: str) -> None:
        super().__init__(rate_key)
        self.rate_key = rate_key


def compute_cost(rates: Rates, tokens: TokenCounts) -> Decimal:
    """Price one request, raising `MissingRate` rather than guessing a rate the table lacks.

    Guessing is how 1-hour cache writes end up at the 5-minute rate, so a missing rate for a
    non-zero count is reported, and the request is left unpriced by the caller.
    """
    applicable = rates.for_prompt(tokens.prompt)
    parts = (
        ("input_mtok", tokens.input),
        ("cache_read_mtok", tokens.cache_read),
        ("cache_write_mtok", tokens.cache_write_5m),
        ("cache_write_1h_mtok", tokens.cache_write_1h),
        ("output_mtok", tokens.output),
    )

    total = Decimal(0)
    for key, count in parts:
        if count == 0:
            continue
        rate = applicable.get(key)
        if rate is None:
            raise MissingRate(key)
        total += rate * count
    return total / MTOK + rates.per_request

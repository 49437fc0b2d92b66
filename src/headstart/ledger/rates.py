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
        # Most models have no tiers and most requests stay below them, and this runs per
        # request: return the base rates themselves then, which callers only read.
        if not self.tiers:
            return self.base
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


# The rate of each of a request's counts, in the order `compute_cost` takes and sums them.
COUNT_RATES = (
    "input_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "output_mtok",
)


def compute_cost(rates: Rates, counts: tuple[int, int, int, int, int]) -> Decimal:
    """Price one request's token counts, in USD.

    `counts` are uncached input, cache reads, 5-minute and 1-hour cache writes, and output, in
    that order: a plain tuple, because this runs once per request of an ingest.

    Raises `MissingRate` rather than guessing a rate the table lacks. Guessing is how 1-hour
    cache writes end up at the 5-minute rate, so a missing rate for a non-zero count is
    reported, and the request is left unpriced by the caller.
    """
    input_, cache_read, cache_write_5m, cache_write_1h, _output = counts
    applicable = rates.for_prompt(input_ + cache_read + cache_write_5m + cache_write_1h)

    total = Decimal(0)
    for key, count in zip(COUNT_RATES, counts):
        if count == 0:
            continue
        rate = applicable.get(key)
        if rate is None:
            raise MissingRate(key)
        total += rate * count
    return total / MTOK + rates.per_request

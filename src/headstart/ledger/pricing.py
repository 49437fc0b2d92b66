"""Price usage events: a user's override file first, then the bundled genai-prices data.

Model ids are matched exactly (allowing only a release-date suffix), never by prefix to an
older model. A request whose model is in neither table stays unpriced: its tokens are counted,
and its note names the fix, which is a price override.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from headstart.ledger.errors import LedgerInputError
from headstart.ledger.events import UsageEvent
from headstart.ledger.rates import RATE_KEYS, MissingRate, Rates, Tier, TokenCounts, compute_cost

if TYPE_CHECKING:
    from genai_prices import types as gp

logger = logging.getLogger("headstart.ledger.pricing")

# genai-prices and its price data are imported on first use: that takes a tenth of a second,
# and a re-ingest that finds nothing new prices nothing. This is what its __version__ reads.
BUNDLED_VERSION = f"genai-prices {version('genai_prices')}"

# A release-date suffix names the same model: claude-sonnet-4-5-20250929, gpt-5-2025-08-07,
# claude-3-opus@20240229. Anything else after a known id may be a newer model.
DATE_SUFFIX = re.compile(r"(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2})$")
# After a prefix match, a short number continues the version (4-5 → 4-50, 5 → 5.1): reject it.
VERSION_CONTINUATION = re.compile(r"^(?:[-._]?\d{1,3}(?!\d)|\d)")
# Bedrock and Vertex ids wrap the model name: us.anthropic.claude-…-v1:0, claude-…@20250929.
PROVIDER_WRAPPER = re.compile(r"^(?:[a-z]{2}\.)?(?:anthropic|openai|google|meta)[./]")
BEDROCK_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")


class PriceResult(NamedTuple):
    """The computed cost of one request, or None with the reason it is unpriced.

    A named tuple, not a dataclass: an ingest makes one per request, and a tuple is built in a
    third of a frozen dataclass's time.
    """

    cost: Decimal | None
    price_version: str | None
    note: str | None = None
    priced_as: str | None = None

    @property
    def priced(self) -> bool:
        return self.cost is not None


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to price one model on one day: its rates, or genai-prices' own arithmetic."""

    rates: Rates | None
    version: str
    priced_as: str
    # Set for bundled prices; the only plans without rates are of models priced in other units.
    info: Any = None


def unpriced_fix(model: str | None) -> str:
    """Say how to price a model the tables do not know."""
    if not model:
        return "the request names no model; its cost cannot be computed"
    return (
        f"add a price for {model!r} to the price override file "
        "(HEADSTART_PRICES_FILE, prices_file in the config file, or --prices FILE; format in "
        "docs/ledger.md), then run `headstart ledger reprice` to price the stored requests"
    )


def normalize_model_id(model: str) -> str:
    """Lower-case a model id and strip provider wrappers such as Bedrock's `us.anthropic.` prefix."""
    ref = model.strip().lower()
    ref = PROVIDER_WRAPPER.sub("", ref)
    return BEDROCK_SUFFIX.sub("", ref)


def _decimal(value: Any, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise LedgerInputError(f"invalid price {value!r} at {where}: expected a number") from exc
    if not number.is_finite() or number < 0:
        raise LedgerInputError(f"invalid price {value!r} at {where}: expected a number >= 0")
    return number


def _read_rates(table: dict[str, Any], where: str) -> dict[str, Decimal]:
    rates = {key: _decimal(table[key], f"{where}.{key}") for key in RATE_KEYS if key in table}
    if "cache_write_5m_mtok" in table:
        rates["cache_write_mtok"] = _decimal(
            table["cache_write_5m_mtok"], f"{where}.cache_write_5m_mtok"
        )
    return rates


class PriceOverrides:
    """Prices from a user's TOML file, for negotiated rates or models newer than genai-prices."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LedgerInputError(
                f"cannot read the price override file {str(path)!r}: {exc.strerror}; "
                "fix the path in HEADSTART_PRICES_FILE, prices_file in the config file, or --prices"
            ) from exc
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise LedgerInputError(
                f"invalid TOML in the price override file {str(path)!r}: {exc}"
            ) from exc

        label = data.get("version") or hashlib.sha256(raw).hexdigest()[:12]
        self.version = f"override {label} ({path.name})"
        self.models: dict[str, Rates] = {}

        models = data.get("models", {})
        if not isinstance(models, dict):
            raise LedgerInputError(
                f"invalid price override file {str(path)!r}: [models] must be a table"
            )
        for name, table in models.items():
            rates = self._parse_model(name, table)
            for model_id in [name, *table.get("aliases", [])]:
                self.models[normalize_model_id(model_id)] = rates

    def _parse_model(self, name: str, table: Any) -> Rates:
        where = f"models.{name!r} in {str(self.path)!r}"
        if not isinstance(table, dict):
            raise LedgerInputError(f"invalid price override at {where}: expected a table of rates")
        base = _read_rates(table, where)
        if "input_mtok" not in base or "output_mtok" not in base:
            raise LedgerInputError(
                f"missing input_mtok or output_mtok at {where}: every overridden model needs both"
            )

        tiers = []
        for index, tier in enumerate(table.get("tiers", [])):
            tier_where = f"{where}.tiers[{index}]"
            if "above_input_tokens" not in tier:
                raise LedgerInputError(f"missing above_input_tokens at {tier_where}")
            tiers.append(
                Tier(above=int(tier["above_input_tokens"]), rates=_read_rates(tier, tier_where))
            )

        per_request = _decimal(table.get("per_request", 0), f"{where}.per_request")
        return Rates(base=base, tiers=tuple(tiers), per_request=per_request)

    def find(self, model: str) -> Rates | None:
        ref = normalize_model_id(model)
        return self.models.get(ref) or self.models.get(DATE_SUFFIX.sub("", ref))


def _strict_match(clause: Any, ref: str) -> bool:
    """Evaluate a genai-prices match clause, but reject prefix matches that extend a version."""
    from genai_prices import types as gp

    if isinstance(clause, gp.ClauseStartsWith):
        if not ref.startswith(clause.starts_with):
            return False
        rest = ref[len(clause.starts_with) :]
        date = DATE_SUFFIX.search(ref)
        if date and len(clause.starts_with) > date.start():
            # The prefix reaches into the release date (claude-sonnet-4-2025…): the name matched.
            return True
        return not VERSION_CONTINUATION.match(rest) or bool(DATE_SUFFIX.fullmatch(rest))
    if isinstance(clause, gp.ClauseOr):
        return any(_strict_match(inner, ref) for inner in clause.or_)
    if isinstance(clause, gp.ClauseAnd):
        return all(_strict_match(inner, ref) for inner in clause.and_)
    return bool(clause.is_match(ref))


def _rates_from_model_price(price: gp.ModelPrice) -> Rates | None:
    """Convert genai-prices rates to `Rates`, or return None when the model uses other units."""
    from genai_prices import types as gp

    base: dict[str, Decimal] = {}
    thresholds: dict[int, dict[str, Decimal]] = {}
    per_request = Decimal(0)

    for key, value in price.__dict__.items():
        if value is None or key.startswith("_"):
            continue
        if key == "requests_kcount":
            per_request = Decimal(value) / 1000
            continue
        if key.endswith("_kcount"):
            # Session logs do not count searches or code executions, so they are not priced.
            continue
        if key == "cache_write_5m_mtok":
            key = "cache_write_mtok"
        if key not in RATE_KEYS:
            return None
        if isinstance(value, gp.TieredPrices):
            base[key] = value.base
            for tier in value.tiers:
                thresholds.setdefault(tier.start, {})[key] = tier.price
        else:
            base[key] = value

    tiers = tuple(Tier(above=start, rates=rates) for start, rates in sorted(thresholds.items()))
    return Rates(base=base, tiers=tiers, per_request=per_request)


class BundledPrices:
    """Rates from genai-prices' bundled data, which works offline."""

    def __init__(self) -> None:
        self._models: dict[str, gp.ModelInfo | None] = {}
        # Per model id as the request names it, so the common case skips normalizing it.
        self._named: dict[str, gp.ModelInfo | None] = {}
        self._rates: dict[tuple[str, date], Rates | None] = {}

    @staticmethod
    def snapshot() -> Any:
        # Built on first use, like the import. genai-prices keeps the snapshot once built.
        from genai_prices import data_snapshot

        return data_snapshot.get_snapshot()

    def find_model(self, model: str) -> gp.ModelInfo | None:
        if model in self._named:
            return self._named[model]
        self._named[model] = info = self._find_normalized(normalize_model_id(model), model)
        return info

    def _find_normalized(self, ref: str, model: str) -> gp.ModelInfo | None:
        if ref in self._models:
            return self._models[ref]
        try:
            _provider, info = self.snapshot().find_provider_model(ref, None, None, None)
        except LookupError:
            info = None
        if info is not None and not _strict_match(info.match, ref):
            logger.debug(
                "not pricing %r as %r: the id extends that model's version", model, info.id
            )
            info = None
        self._models[ref] = info
        return info

    def rates(self, info: gp.ModelInfo, when: datetime) -> Rates | None:
        """Return the rates in force at `when`, cached per day because prices change by date.

        NOTE: prices that depend on the time of day (off-peak rates) get the first rate seen
        that day.
        """
        key = (info.id, when.date())
        if key not in self._rates:
            self._rates[key] = _rates_from_model_price(info.get_prices(when))
        return self._rates[key]


class PriceBook:
    """Price events from overrides first, then from genai-prices, and flag models neither contains."""

    def __init__(self, overrides_file: Path | None = None) -> None:
        self.overrides = PriceOverrides(overrides_file) if overrides_file else None
        self.bundled = BundledPrices()
        # What each model id costs on each day, or the result for a model that is not priced.
        self._plans: dict[tuple[str, date], _Plan | PriceResult] = {}

    @property
    def version(self) -> str:
        if self.overrides:
            return f"{self.overrides.version}; {BUNDLED_VERSION}"
        return BUNDLED_VERSION

    def price(self, event: UsageEvent) -> PriceResult:
        model = event.model
        if not model:
            return PriceResult(None, None, unpriced_fix(None))

        day = (model, event.timestamp.date())
        plan = self._plans.get(day)
        if plan is None:
            plan = self._plans[day] = self._plan(model, event.timestamp)
        if isinstance(plan, PriceResult):
            return plan

        counts = (
            event.input_tokens,
            event.cache_read_tokens,
            event.cache_write_5m_tokens,
            event.cache_write_1h_tokens,
            event.output_tokens,
        )
        if plan.rates is None:
            return self._compute_with_genai_prices(plan.info, event, TokenCounts(*counts))
        try:
            cost = compute_cost(plan.rates, counts)
        except MissingRate as missing:
            note = (
                f"the price of {plan.priced_as!r} ({plan.version}) has no {missing.rate_key} rate "
                f"but the request has such tokens: add {missing.rate_key} for it to the price "
                "override file"
            )
            return PriceResult(None, plan.version, note, plan.priced_as)
        return PriceResult(cost, plan.version, None, plan.priced_as)

    def _plan(self, model: str, when: datetime) -> _Plan | PriceResult:
        if self.overrides and (rates := self.overrides.find(model)):
            return _Plan(rates, self.overrides.version, model)

        info = self.bundled.find_model(model)
        if info is None:
            return PriceResult(None, None, f"unknown model {model!r}: {unpriced_fix(model)}")
        return _Plan(self.bundled.rates(info, when), BUNDLED_VERSION, info.id, info)

    def _compute_with_genai_prices(
        self, info: gp.ModelInfo, event: UsageEvent, tokens: TokenCounts
    ) -> PriceResult:
        import genai_prices

        # genai-prices counts cache reads and writes inside input_tokens, but ours are separate.
        usage = genai_prices.Usage(
            input_tokens=tokens.prompt,
            cache_read_tokens=tokens.cache_read,
            cache_write_tokens=tokens.cache_write_5m + tokens.cache_write_1h,
            cache_write_1h_tokens=tokens.cache_write_1h,
            output_tokens=tokens.output,
        )
        price = info.get_prices(event.timestamp).calc_price(usage)
        return PriceResult(price["total_price"], BUNDLED_VERSION, None, info.id)

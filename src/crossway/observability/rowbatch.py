"""Usage rows for a batch of records, a column at a time.

`to_row` (recorder.py) makes one row from one record with ~130 Python bytecodes. Most
records are alike: one attempt that answered as the client was answered, with usage, a first
byte and outcome "ok". For those, the batch is read with three operator.attrgetter calls per
record (the record's values, its attempt's, its usage's: one C call each, dotted paths
included) and turned into columns by zip (a transposition in C), which become a RowBatch
(rows.py) that the live figures and the SQLite store read column by column without a tuple
per row; the rest of the batch goes through `to_row` one by one. Same rows, same order, a
fraction of the interpreter's work per request, and each record visited three times rather
than once per column (docs/benchmarks.md). tests/observability/test_relay_cost.py checks the
two ways against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from operator import add, attrgetter, itemgetter, mul, sub, truediv
from typing import TYPE_CHECKING, Any

from crossway.observability.rows import RowBatch, numbers_only, one_value

if TYPE_CHECKING:
    from crossway.observability.recorder import PriceLookup
    from crossway.observability.records import RequestRecord

_FIRST = itemgetter(0)
# What a row takes from its record; the first five decide whether the record is plain.
_RECORD = attrgetter("attempts", "outcome", "first_byte", "ended", "status", "started",
                     "request_id", "wall_started", "client_dialect", "user_agent",
                     "session_id", "model", "stream", "key_id", "error")
# ... from the record's one attempt (the first three decide too), and from its usage.
_ATTEMPT = attrgetter("failure", "status", "usage", "fast", "cost", "target.instance",
                      "target.model")
_TOKENS = attrgetter("input_tokens", "output_tokens", "cache_read_tokens",
                     "cache_creation_tokens", "reasoning_tokens")
_NAME = attrgetter("name")
_NAME_ID = attrgetter("id")
_BACKEND = attrgetter("provider.name")
_BACKEND_TYPE = attrgetter("provider.settings.type")
_DIALECT = attrgetter("dialect")

# A batch's columns: the record's (in _RECORD's order), then its attempt's (_ATTEMPT's).
Columns = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def plain(record: RequestRecord) -> bool:
    """A record whose row the batch way makes (see the module docstring)."""
    attempts = record.attempts
    if len(attempts) != 1 or record.outcome != "ok" or record.first_byte is None \
            or record.ended is None:
        return False
    a = attempts[0]
    return a.failure is None and a.status == record.status and a.usage is not None


def plain_columns(records: Sequence[RequestRecord]) -> Columns | None:
    """The batch's columns when plain() holds for every record (checked a column at a
    time), else None."""
    n = len(records)
    if not n:
        return None
    cols = list(zip(*map(_RECORD, records), strict=True))
    attempts, outcome, first_byte, ended, status = cols[:5]
    if list(map(len, attempts)).count(1) != n or outcome.count("ok") != n \
            or not numbers_only(first_byte) or not numbers_only(ended):
        return None
    acols = list(zip(*map(_ATTEMPT, map(_FIRST, attempts)), strict=True))
    # Tuples compare item by item in C; a Usage is always true, None is not (`None in`
    # would call Usage.__eq__, a Python function dataclasses make, for every row).
    if acols[0].count(None) != n or acols[1] != status or not all(acols[2]):
        return None
    return cols, acols


def plain_rows(columns: Columns, families: dict[str | None, str],
               family_of: Callable[[str | None], str], price_of: PriceLookup) -> RowBatch:
    """Rows of records that are all plain(), from their columns (plain_columns), in their
    order. `families`: client family by User-Agent, as far as known; `family_of` for the
    rest."""
    (_, outcome, first_byte, ended, status, started, ids, ts, client_dialect, agents,
     sessions, asked, stream, key_ids, errors), acols = columns
    _, _, usages, fast, reported, instances, infos = acols
    n = len(ids)
    family = list(map(families.get, agents))
    if not all(family):  # a family is a non-empty string: None where not yet known
        family = [f if f is not None else family_of(ua) for f, ua in zip(family, agents,
                                                                          strict=True)]
    where = _where(instances, infos)
    tokens = _token_columns(usages)
    costs, estimated = _costs(reported, where[3], where[4], tokens, price_of)
    return RowBatch([
        ids, ts, client_dialect, family, sessions, asked, *where, fast, stream, status,
        outcome, [1] * n, [0] * n,
        list(map(mul, map(sub, ended, started), repeat(1000.0))),
        list(map(mul, map(sub, first_byte, started), repeat(1000.0))),
        *tokens, costs, estimated, key_ids, errors, [None] * n])


def _where(instances: Sequence[Any], infos: Sequence[Any]) -> list[Sequence[Any]]:
    """target, instance, backend, backend_type, upstream_model and upstream_dialect of each
    row, from its attempt's instance and model. Attempts of a batch usually went to one
    instance and model (shared configuration objects): then each column is one value
    repeated, read once."""
    n = len(instances)
    if one_value(instances) and one_value(infos):
        instance, info = instances[0], infos[0]
        provider = instance.provider
        return [[f"{instance.name}:{info.id}"] * n, [instance.name] * n,
                [provider.name] * n, [provider.settings.type] * n, [info.id] * n,
                [info.dialect] * n]
    names = list(map(_NAME, instances))
    models = list(map(_NAME_ID, infos))
    return [list(map("{}:{}".format, names, models)), names, list(map(_BACKEND, instances)),
            list(map(_BACKEND_TYPE, instances)), models, list(map(_DIALECT, infos))]


def _costs(reported: Sequence[float | None], types: Sequence[str], models: Sequence[str],
           tokens: Sequence[Sequence[int]], price_of: PriceLookup,
           ) -> tuple[Sequence[float | None], list[bool]]:
    """The upstream's own figure (`reported`) where it gave one, else the price table
    (estimated)."""
    costs = reported
    n = len(costs)
    if numbers_only(costs):
        return costs, [False] * n
    one = one_value(types) and one_value(models)
    price = price_of(types[0], models[0]) if one else None
    if price is not None and price.tier is None:  # one model, one price: column-wise
        read = price.cache_read if price.cache_read is not None else price.input
        write = price.cache_write if price.cache_write is not None else price.input
        ins, outs, reads, writes = tokens[:4]
        # ((in + out) + read) + write, as Price.cost adds them: the same float, bit for bit
        # (a term that is 0.0 in every row leaves each sum as it is, so it is skipped).
        total: Any = map(add, map(mul, ins, repeat(price.input)),
                         map(mul, outs, repeat(price.output)))
        if any(reads):
            total = map(add, total, map(mul, reads, repeat(read)))
        if any(writes):
            total = map(add, total, map(mul, writes, repeat(write)))
        priced = list(map(truediv, total, repeat(1_000_000)))
        if costs.count(None) == n:
            return priced, [True] * n
        return ([c if c is not None else p for c, p in zip(costs, priced, strict=True)],
                [c is None for c in costs])
    estimated = [False] * n
    mixed = list(costs)
    for i, (cost, btype, model) in enumerate(zip(costs, types, models, strict=True)):
        if cost is None:
            found = price_of(btype, model)
            if found is not None:
                mixed[i] = found.cost(tokens[0][i], tokens[1][i], tokens[2][i], tokens[3][i])
                estimated[i] = True
    return mixed, estimated


def _token_columns(usages: Sequence[Any]) -> list[Sequence[int]]:
    cols: list[Sequence[int]] = list(zip(*map(_TOKENS, usages), strict=True))
    reasoning = cols[4]  # None where the upstream did not say (most answers): 0
    if not numbers_only(reasoning):
        n = len(reasoning)
        cols[4] = [0] * n if reasoning.count(None) == n else [r or 0 for r in reasoning]
    return cols

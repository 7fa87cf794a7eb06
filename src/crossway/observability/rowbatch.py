"""Usage rows for a batch of records, a column at a time.

`to_row` (recorder.py) makes one row from one record with ~130 Python bytecodes. Most
records are alike: one attempt that answered as the client was answered, with usage, a first
byte and outcome "ok". For those, every column of the batch is read with operator.attrgetter
over the whole list (C loops, dotted paths included) into a RowBatch (rows.py), which the
live figures and the SQLite store read column by column without a tuple per row; the rest
of the batch goes through `to_row` one by one. Same rows, same order, a fraction of the
interpreter's work per request (docs/benchmarks.md). tests/observability/test_rows_prices.py
checks the two ways against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from operator import add, attrgetter, eq, itemgetter, mul, sub, truediv
from typing import TYPE_CHECKING, Any

from crossway.observability.rows import RowBatch, numbers_only

if TYPE_CHECKING:
    from crossway.exchange import Attempt
    from crossway.observability.recorder import PriceLookup
    from crossway.observability.records import RequestRecord

_ATTEMPTS = attrgetter("attempts")
_FIRST = itemgetter(0)
_ID = attrgetter("request_id")
_TS = attrgetter("wall_started")
_CLIENT_DIALECT = attrgetter("client_dialect")
_SESSION = attrgetter("session_id")
_ASKED = attrgetter("model")
_STREAM = attrgetter("stream")
_KEY_ID = attrgetter("key_id")
_ERROR = attrgetter("error")
_STATUS = attrgetter("status")  # of a record, or of an attempt
_OUTCOME = attrgetter("outcome")
_FIRST_BYTE = attrgetter("first_byte")
_STARTED = attrgetter("started")
_ENDED = attrgetter("ended")
_UA = attrgetter("user_agent")
_A_FAILURE = attrgetter("failure")
_A_USAGE = attrgetter("usage")
_A_COST = attrgetter("cost")
_A_FAST = attrgetter("fast")
_T_INSTANCE = attrgetter("target.instance")
_T_MODEL = attrgetter("target.model")
_NAME = attrgetter("name")
_NAME_ID = attrgetter("id")
_BACKEND = attrgetter("target.instance.provider.name")
_BACKEND_TYPE = attrgetter("target.instance.provider.settings.type")
_DIALECT = attrgetter("target.model.dialect")
_TOKENS = tuple(map(attrgetter, ("input_tokens", "output_tokens", "cache_read_tokens",
                                 "cache_creation_tokens", "reasoning_tokens")))


def plain(record: RequestRecord) -> bool:
    """A record whose row the batch way makes (see the module docstring)."""
    attempts = record.attempts
    if len(attempts) != 1 or record.outcome != "ok" or record.first_byte is None \
            or record.ended is None:
        return False
    a = attempts[0]
    return a.failure is None and a.status == record.status and a.usage is not None


def plain_attempts(records: Sequence[RequestRecord]) -> list[Attempt] | None:
    """Each record's one attempt when plain() holds for every record (checked a column at
    a time), else None."""
    n = len(records)
    lists = list(map(_ATTEMPTS, records))
    if list(map(len, lists)).count(1) != n \
            or list(map(_OUTCOME, records)).count("ok") != n \
            or not numbers_only(list(map(_FIRST_BYTE, records))) \
            or not numbers_only(list(map(_ENDED, records))):
        return None
    only: list[Attempt] = list(map(_FIRST, lists))
    if (list(map(_A_FAILURE, only)).count(None) == n
            and all(map(eq, map(_STATUS, only), map(_STATUS, records)))
            # A Usage is always true, None is not: `None in` would call Usage.__eq__ (a
            # Python function, dataclasses make it) for every row.
            and all(map(_A_USAGE, only))):
        return only
    return None


def plain_rows(records: Sequence[RequestRecord], only: Sequence[Attempt],
               families: dict[str | None, str], family_of: Callable[[str | None], str],
               price_of: PriceLookup) -> RowBatch:
    """Rows of records that are all plain(), with their one attempt each (`only`), in
    their order, a column at a time. `families`: client family by User-Agent, as far
    as known; `family_of` for the rest."""
    n = len(records)
    agents = list(map(_UA, records))
    family = list(map(families.get, agents))
    if not all(family):  # a family is a non-empty string: None where not yet known
        family = [f if f is not None else family_of(ua) for f, ua in zip(family, agents,
                                                                          strict=True)]
    started = list(map(_STARTED, records))
    where = _where(only)
    models, types = where[4], where[3]
    tokens = _token_columns(list(map(_A_USAGE, only)))
    costs, estimated = _costs(only, types, models, tokens, price_of)
    return RowBatch([
        list(map(_ID, records)), list(map(_TS, records)), list(map(_CLIENT_DIALECT, records)),
        family, list(map(_SESSION, records)), list(map(_ASKED, records)),
        *where, list(map(_A_FAST, only)),
        list(map(_STREAM, records)), list(map(_STATUS, records)),
        list(map(_OUTCOME, records)), [1] * n, [0] * n,
        list(map(mul, map(sub, map(_ENDED, records), started), repeat(1000.0))),
        list(map(mul, map(sub, map(_FIRST_BYTE, records), started), repeat(1000.0))),
        *tokens, costs, estimated, list(map(_KEY_ID, records)),
        list(map(_ERROR, records)), [None] * n])


def _where(only: Sequence[Attempt]) -> list[list[Any]]:
    """target, instance, backend, backend_type, upstream_model and upstream_dialect of each
    row. Attempts of a batch usually went to one instance and model (shared configuration
    objects): then each column is one value repeated, read once."""
    n = len(only)
    instances = list(map(_T_INSTANCE, only))
    infos = list(map(_T_MODEL, only))
    if n and instances.count(instances[0]) == n and infos.count(infos[0]) == n:
        instance, info = instances[0], infos[0]
        provider = instance.provider
        return [[f"{instance.name}:{info.id}"] * n, [instance.name] * n,
                [provider.name] * n, [provider.settings.type] * n, [info.id] * n,
                [info.dialect] * n]
    names = list(map(_NAME, instances))
    models = list(map(_NAME_ID, infos))
    return [list(map("{}:{}".format, names, models)), names, list(map(_BACKEND, only)),
            list(map(_BACKEND_TYPE, only)), models, list(map(_DIALECT, only))]


def _costs(only: Sequence[Attempt], types: list[str], models: list[str],
           tokens: list[list[int]], price_of: PriceLookup,
           ) -> tuple[list[float | None], list[bool]]:
    """The upstream's own figure where it gave one, else the price table (estimated)."""
    costs: list[float | None] = list(map(_A_COST, only))
    n = len(costs)
    if numbers_only(costs):
        return costs, [False] * n
    one = types.count(types[0]) == n and models.count(models[0]) == n
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
    for i, (cost, btype, model) in enumerate(zip(costs, types, models, strict=True)):
        if cost is None:
            found = price_of(btype, model)
            if found is not None:
                costs[i] = found.cost(tokens[0][i], tokens[1][i], tokens[2][i], tokens[3][i])
                estimated[i] = True
    return costs, estimated


def _token_columns(usages: list[Any]) -> list[list[int]]:
    cols = [list(map(getter, usages)) for getter in _TOKENS]
    if not numbers_only(cols[4]):  # reasoning tokens: None when the upstream did not say
        cols[4] = [r or 0 for r in cols[4]]
    return cols

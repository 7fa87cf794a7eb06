"""The rows of `crossway models`: every routable model with the keys that serve it, its
upstream dialect and where that dialect came from, then the routing names."""

from __future__ import annotations

from dataclasses import dataclass

from crossway.routing.plan import Router


@dataclass(frozen=True, slots=True)
class ModelRow:
    model: str  # `backend/model`, or a routing name
    instances: str  # comma-separated instance names, "(no key)", or "-" for routing names
    dialect: str  # the upstream dialect, or what a routing name is
    source: str  # built-in, config, override, discovered, learned; or what it routes to


def model_rows(router: Router) -> list[ModelRow]:
    rows = []
    for r in router.routes():
        instances = ",".join(i.name for i in r.provider.instances) or "(no key)"
        rows.append(ModelRow(r.public_id, instances, r.model.dialect,
                             r.provider.dialect_origin(r.model.id) or "built-in"))
    auto = router.auto.names() if router.auto is not None else frozenset()
    for name, ids in router.aliases().items():
        kind = "auto router" if name in auto else "alias"
        rows.append(ModelRow(name, "-", kind, ", ".join(ids) or "(nothing routable)"))
    return rows

"""Graph's answers to a record's writes (`Directory.apply_changes`), read as what was done, what is still pending and
what Graph refused for good."""
from __future__ import annotations

from dataclasses import dataclass

from lifecycle.errors import GraphError, GraphNotFound, GraphRejectedInput
from lifecycle.logs import get_logger
from lifecycle.ports import ChangeOutcome

log = get_logger("lifecycle.provisioning")


@dataclass(frozen=True)
class Result:
    """What Graph did of one record's writes: groups added and removed, attributes written, errors of what is still
    pending, and the groups Graph refused for good."""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    attributes_written: bool = False
    errors: tuple[str, ...] = ()
    refused: tuple[tuple[str, GraphRejectedInput], ...] = ()  # (group id, Graph's final refusal)


def is_lagging(outcome: ChangeOutcome) -> bool:
    """An add or attribute write Graph refused only because it does not show the user yet."""
    return outcome.change.kind in ("add", "attributes") and isinstance(outcome.error, GraphNotFound)


def result_of(user_id: str, outcome: ChangeOutcome) -> Result:
    kind, target, error = outcome.change.kind, outcome.change.target, outcome.error
    if kind == "add":
        return _added(target, user_id, error)
    if kind == "remove":
        return _removed(target, error)
    return Result(attributes_written=True) if error is None else Result(errors=(f"attributes: {error.message}",))


def _added(group_id: str, user_id: str, error: GraphError | None) -> Result:
    if error is None:
        return Result(added=(group_id,))
    if isinstance(error, GraphRejectedInput):
        log.warning("group add refused", group=group_id, user=user_id, error=error.message)
        return Result(errors=(f"add to {group_id} refused: {error.message}",), refused=((group_id, error),))
    log.warning("group add pending", group=group_id, user=user_id, error=error.message)
    return Result(errors=(f"add to {group_id}: {error.message}",))


def _removed(group_id: str, error: GraphError | None) -> Result:
    if error is None or isinstance(error, GraphNotFound):
        return Result(removed=(group_id,))  # GraphNotFound: the group itself is gone, no membership is left
    if isinstance(error, GraphRejectedInput):
        return Result(errors=(f"remove from {group_id} refused: {error.message}",), refused=((group_id, error),))
    return Result(errors=(f"remove from {group_id}: {error.message}",))


def merged(results: list[Result]) -> Result:
    return Result(
        added=tuple(g for r in results for g in r.added), removed=tuple(g for r in results for g in r.removed),
        attributes_written=any(r.attributes_written for r in results),
        errors=tuple(e for r in results for e in r.errors), refused=tuple(x for r in results for x in r.refused))

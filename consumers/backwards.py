"""The log went backwards: Kafka carries what the restored database does not hold (README "Backup and restore").

A database restored from a backup older than the topics has a shorter log; the relay would publish new events at
positions the topics already carry with other content, and the consumer groups would apply events the log no
longer has. Both compare what Kafka carries with the chain and stop, loudly, instead of skipping or doubling.
"""

from __future__ import annotations

import logging

from projections.integrity import ChainLink

logger = logging.getLogger(__name__)


class LogWentBackwards(RuntimeError):
    """Kafka carries a log position after the chain's head, or with another hash than the chain's there."""


def refuse_unknown(carried: dict[int, str], where: str) -> None:
    """Raise (and log critically) unless every position ``carried`` (→ its chain hash) is this log's."""
    if not carried:
        return
    chained = dict(ChainLink.objects.filter(position__in=carried).values_list("position", "hash"))
    for position, digest in sorted(carried.items()):
        if chained.get(position) == digest:
            continue
        head = ChainLink.objects.order_by("-position").values_list("position", flat=True).first() or 0
        problem = (
            f"{where} carries log position {position} "
            + ("with another hash than the log's" if position in chained else f"after the log's head {head}")
            + ": the log went backwards (the database restored from an older backup?); stopping"
            + " (the way back: manage.py recover_from_kafka, README \"Backup and restore\")"
        )
        logger.critical(problem)
        raise LogWentBackwards(problem)

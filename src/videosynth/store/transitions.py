"""Every status change the store writes, each a (from → to) pair of the domain's status machine.

A status is written only through ``Transition.update``: a guarded ``UPDATE tasks SET status = <to> WHERE status
= <from>`` whose row count says whether it won, so racing writers (two claimers, cancel vs claim, finish vs
requeue) cannot both win. A pair the machine does not allow cannot even be built, and whether the change frees a
slot of the key's quota (so its usage row must be released) follows from the pair too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Update, update

from videosynth.domain.task import TaskStatus, can_transition, frees_a_slot
from videosynth.store.schema import tasks


class IllegalTransition(ValueError):
    """A status change the domain's status machine (domain.task.TRANSITIONS) does not allow."""


@dataclass(frozen=True)
class Transition:
    source: TaskStatus
    target: TaskStatus

    def __post_init__(self) -> None:
        if not can_transition(self.source, self.target):
            raise IllegalTransition(f"A task cannot go from {self.source.value} to {self.target.value}.")

    @property
    def frees_a_slot(self) -> bool:
        return frees_a_slot(self.source, self.target)

    def update(self) -> Update:
        """The guarded UPDATE; callers add which task(s) and the other columns it sets."""
        return update(tasks).where(tasks.c.status == self.source.value).values(status=self.target.value)


def while_in(status: TaskStatus) -> Update:
    """An UPDATE that leaves the status as it is, guarded on it (a heartbeat)."""
    return update(tasks).where(tasks.c.status == status.value)


CLAIM = Transition(TaskStatus.PENDING, TaskStatus.RUNNING)
CANCEL = Transition(TaskStatus.PENDING, TaskStatus.CANCELED)
SUCCEED = Transition(TaskStatus.RUNNING, TaskStatus.SUCCEEDED)
FAIL = Transition(TaskStatus.RUNNING, TaskStatus.FAILED)  # by its worker, or given up after a lost lease
# By its relay worker, when the upstream canceled the task (our cancel, forwarded); a cancel never stops a RUNNING one.
UPSTREAM_CANCELED = Transition(TaskStatus.RUNNING, TaskStatus.CANCELED)
REQUEUE = Transition(TaskStatus.RUNNING, TaskStatus.PENDING)  # released by its worker, or its lease expired

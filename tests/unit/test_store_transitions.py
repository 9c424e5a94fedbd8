"""store/transitions.py: the store writes a status only as a (from → to) pair of the domain's status machine."""

from __future__ import annotations

import itertools

import pytest

from videosynth.domain.task import TaskStatus, can_transition
from videosynth.store import transitions
from videosynth.store.transitions import IllegalTransition, Transition, while_in

S = TaskStatus
ILLEGAL = [(a, b) for a, b in itertools.product(TaskStatus, TaskStatus) if not can_transition(a, b)]


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=[f"{a.value}->{b.value}" for a, b in ILLEGAL])
def test_an_illegal_transition_cannot_be_built(source: TaskStatus, target: TaskStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"from {source.value} to {target.value}"):
        Transition(source, target)


def test_the_stores_transitions_and_which_free_a_slot() -> None:
    made = {
        name: (change.source, change.target, change.frees_a_slot)
        for name, change in vars(transitions).items()
        if isinstance(change, Transition)
    }
    assert made == {
        "CLAIM": (S.PENDING, S.RUNNING, False),
        "CANCEL": (S.PENDING, S.CANCELED, True),
        "SUCCEED": (S.RUNNING, S.SUCCEEDED, True),
        "FAIL": (S.RUNNING, S.FAILED, True),
        "REQUEUE": (S.RUNNING, S.PENDING, False),
        "UPSTREAM_CANCELED": (S.RUNNING, S.CANCELED, True),
    }


def test_a_transition_is_an_update_guarded_on_its_source_status() -> None:
    statement = str(transitions.CANCEL.update().compile(compile_kwargs={"literal_binds": True}))
    assert statement == "UPDATE tasks SET status='CANCELED' WHERE tasks.status = 'PENDING'"


def test_an_update_that_keeps_the_status_is_guarded_on_it() -> None:
    statement = while_in(S.RUNNING).values(progress=5).compile(compile_kwargs={"literal_binds": True})
    assert str(statement) == "UPDATE tasks SET progress=5 WHERE tasks.status = 'RUNNING'"

"""Task ids: UUIDv7, time first."""

from __future__ import annotations

import uuid

import pytest
from tests.support.tasks import T0

from videosynth.domain.ids import RANDOM_BITS, time_ordered_uuid


def test_a_task_id_is_a_version_7_uuid_carrying_its_millisecond() -> None:
    made = uuid.UUID(time_ordered_uuid(T0, 12345))
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert made.int >> 80 == T0
    assert made.int & ((1 << 62) - 1) == 12345 and (made.int >> 64) & 0xFFF == 0


def test_later_ids_sort_after_earlier_ones_whatever_their_random_bits() -> None:
    top = (1 << RANDOM_BITS) - 1
    assert time_ordered_uuid(T0, top) < time_ordered_uuid(T0 + 1, 0)
    assert uuid.UUID(time_ordered_uuid(T0, top)).int & ((1 << 62) - 1) == (1 << 62) - 1


@pytest.mark.parametrize("random", [-1, 1 << RANDOM_BITS])
def test_random_bits_out_of_range_are_refused(random: int) -> None:
    with pytest.raises(ValueError, match="74 bits"):
        time_ordered_uuid(T0, random)

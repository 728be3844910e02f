import numpy as np
import pytest

from vision_zero.core.seeding import replication_rngs


def test_same_seed_and_replication_give_same_streams() -> None:
    a, b = replication_rngs(7, 3), replication_rngs(7, 3)
    assert a.demand.random() == b.demand.random()
    assert a.drivers.random() == b.drivers.random()


def test_streams_and_replications_are_distinct() -> None:
    r = replication_rngs(7, 3)
    draws = {r.demand.random(), r.drivers.random(), r.routing.random(), r.parameters.random()}
    assert len(draws) == 4
    assert replication_rngs(7, 4).demand.random() != replication_rngs(7, 3).demand.random()
    assert replication_rngs(8, 3).demand.random() != replication_rngs(7, 3).demand.random()


def test_stream_independent_of_use_of_other_streams() -> None:
    r1 = replication_rngs(1, 0)
    r1.demand.random(1000)
    r2 = replication_rngs(1, 0)
    assert np.array_equal(r1.drivers.random(5), r2.drivers.random(5))


def test_negative_seed_rejected() -> None:
    with pytest.raises(ValueError, match="seed"):
        replication_rngs(-1, 0)

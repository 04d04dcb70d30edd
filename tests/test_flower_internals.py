"""The Flower internals pmm relies on (server/flower_internals.py) still behave as pmm expects.

If this fails after a Flower upgrade, the internals moved or changed: adapt server/flower_internals.py.
"""
from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, MetricRecord, RecordDict

ADAPTER = "server/flower_internals.py"


def test_weighted_average_of_array_records_is_fedavg() -> None:
    from pmm.server.flower_internals import aggregate_arrayrecords

    replies = [RecordDict({"arrays": ArrayRecord({"shared": Array(np.full(4, value, np.float32))}),
                           "metrics": MetricRecord({"num-examples": weight})}) for value, weight in ((1.0, 1), (4.0, 3))]
    merged = aggregate_arrayrecords(replies, "num-examples")
    assert np.allclose(merged["shared"].numpy(), 3.25), f"Flower's aggregate_arrayrecords changed: adapt {ADAPTER}"


def test_wire_bytes_count_what_a_record_carries() -> None:
    """What `wire_bytes` sums for a message, here for its content (a Message needs a running ServerApp);
    it walks public members of Flower's records, so a change there shows here too."""
    from pmm.server.strategy import wire_bytes

    vector = np.zeros(10_000, np.float32)
    content = RecordDict({"arrays": ArrayRecord({"shared": Array(vector)}), "config": ConfigRecord({"x": 1})})
    size = wire_bytes(content)
    assert vector.nbytes < size < vector.nbytes + 4096, f"Flower's record serialization changed ({size} bytes)"

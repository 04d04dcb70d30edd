"""The one piece of Flower below its public API that pmm uses, kept here and nowhere else:
`aggregate_arrayrecords` (flwr.serverapp.strategy.strategy_utils), the weighted average FedAvg
itself uses, so pmm's aggregation is exactly Flower's. (The audit log's byte count walks the
public `children`/`deflate()` of Flower's records instead: server.strategy.wire_bytes.)

A Flower release may move or change it without notice; `tests/test_flower_internals.py`
exercises it and fails with a message naming this module when that happens.
"""
from __future__ import annotations

from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords
__all__ = ["aggregate_arrayrecords"]

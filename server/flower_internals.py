"""The two pieces of Flower below its public API that pmm uses, kept here and nowhere else.

- `aggregate_arrayrecords` (flwr.serverapp.strategy.strategy_utils): the weighted average FedAvg
  itself uses, so pmm's aggregation is exactly Flower's.
- `get_all_nested_objects` (flwr.supercore.inflatable): the object tree Flower serializes for a
  message, which is how the audit log counts the bytes that really travel.

A Flower release may move or change them without notice; `tests/test_flower_internals.py`
exercises both and fails with a message naming this module when that happens.
"""
from __future__ import annotations

from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

__all__ = ["aggregate_arrayrecords", "get_all_nested_objects"]

"""Packing the shared parameters into one vector, and the server's check of a packed reply."""
from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

from pmm_core.config.model import ModelOptions
from pmm_core.federated.packing import PACKED_KEY, Layout, pack, unpack
from pmm_core.federated.partition import PartitionOptions, shared_arrays
from pmm_core.models import build_model
from pmm.server.strategy import check_reply, describe_reply

TINY = ModelOptions(base_channels=4, residual_blocks=1, embedding_dim=8, modulation_hidden=8, encoding_dim=8,
                    discriminator_channels=4, discriminator_layers=1)


def test_pack_unpack_round_trip_of_a_real_model() -> None:
    shared = shared_arrays(build_model(TINY), PartitionOptions())
    layout = Layout.of(shared)
    flat = pack(shared, layout)
    assert flat.dtype == np.float32 and flat.shape == (layout.size,)
    assert layout.size == sum(a.size for a in shared.values())
    back = unpack(flat, Layout.from_json(layout.to_json()))
    assert list(back) == list(shared)
    assert all(np.array_equal(back[k], shared[k]) for k in shared)
    # averaging packed vectors is averaging every parameter
    other = {k: v + 1.0 for k, v in shared.items()}
    mean = unpack((pack(shared, layout) + pack(other, layout)) / 2, layout)
    assert all(np.allclose(mean[k], shared[k] + 0.5) for k in shared)


def test_pack_refuses_what_does_not_fit_the_layout() -> None:
    layout = Layout.of({"a": np.zeros((2, 3), np.float32), "b": np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match="extra .*embedding"):
        pack({"a": np.zeros((2, 3), np.float32), "b": np.zeros(4, np.float32), "embedding.x": np.zeros(1, np.float32)}, layout)
    with pytest.raises(ValueError, match="b: float32\\[5\\]"):
        pack({"a": np.zeros((2, 3), np.float32), "b": np.zeros(5, np.float32)}, layout)
    with pytest.raises(ValueError, match="9 values, the layout 10"):
        unpack(np.zeros(9, np.float32), layout)


def _reply(arrays: dict[str, np.ndarray], declared: Layout | None) -> Message:
    site = {"name": "BraTS"} | ({"layout": declared.to_json()} if declared else {})
    content = RecordDict({"arrays": ArrayRecord({k: Array(v) for k, v in arrays.items()}),
                          "metrics": MetricRecord({"num-examples": 10, "val/mean_psnr": 20.0}),
                          "site": ConfigRecord(site)})
    return Message(content=content, dst_node_id=0, message_type="train")


def test_the_server_accepts_exactly_the_packed_shared_parameters(monkeypatch) -> None:
    from flwr.supercore.task_identity import TaskIdentity
    for field in ("_run_id", "_node_id", "_task_id"):  # a Message made outside a Flower run needs these
        monkeypatch.setattr(TaskIdentity, field, 1)
    shared = {"generator.w": np.ones((2, 2), np.float32), "generator.b": np.zeros(3, np.float32)}
    layout = Layout.of(shared)
    good = _reply({PACKED_KEY: pack(shared, layout)}, layout)
    assert check_reply(good, layout).num_examples == 10
    assert set(describe_reply(good)["parameters"]) == set(shared)
    personal = Layout.of(shared | {"embedding.projection.weight": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="extra \\['embedding"):
        check_reply(_reply({PACKED_KEY: np.zeros(personal.size, np.float32)}, personal), layout)
    with pytest.raises(ValueError, match="no readable layout"):
        check_reply(_reply({PACKED_KEY: pack(shared, layout)}, None), layout)
    garbled = _reply({PACKED_KEY: pack(shared, layout)}, None)
    garbled.content.config_records["site"]["layout"] = "[[1, 2"
    assert describe_reply(garbled)["parameters"] == {}  # the audit log survives it
    with pytest.raises(ValueError, match="no readable layout"):
        check_reply(garbled, layout)
    with pytest.raises(ValueError, match="one float32 array"):
        check_reply(_reply({PACKED_KEY: np.zeros(layout.size + 1, np.float32)}, layout), layout)
    with pytest.raises(ValueError, match="one float32 array"):
        check_reply(_reply({PACKED_KEY: pack(shared, layout), "extra": np.zeros(1, np.float32)}, layout), layout)

"""FedAvg as pmm needs it, on Flower's Message API.

- Waiting for sites is bounded: with fewer than `min_sites` connected after `wait_timeout_s`,
  the federation stops with a clear message (Flower's own sampler would wait forever).
- Aggregation is FedAvg weighted by each site's number of training slices (`num-examples`),
  on the packed vector of shared parameters (pmm_core/federated/packing.py). Replies are
  checked first: one packed array whose declared layout is exactly the shared parameters,
  scalar metrics only. A failed or malformed reply is dropped; the round counts while at least
  `min_sites` replies are valid, otherwise the federation stops.
- After every round the callback `on_round` saves the global state and logs to MLflow.
- The evaluate stage runs once, after the last round: it hands every site the final global
  network, which the site keeps with its personal parameters as its model (`on_final` logs it).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from pmm_core.federated.packing import PACKED_KEY, Layout
from pmm.server.flower_internals import aggregate_arrayrecords

WEIGHT_KEY = "num-examples"


class FederationStopped(RuntimeError):
    """The federation cannot go on (too few sites); the message says why."""


@dataclass
class SiteReply:
    site: str
    metrics: dict[str, float]
    num_examples: int


def declared_layout(message: Message) -> Layout | None:
    """The layout a site states for its packed parameters (config record `site`, key `layout`);
    None when there is none or it cannot be read (the reply is then rejected, not the server)."""
    site = message.content.config_records.get("site")
    if site is None or "layout" not in site:
        return None
    try:
        return Layout.from_json(str(site["layout"]))
    except (ValueError, TypeError):
        return None


def check_reply(message: Message, layout: Layout | None) -> SiteReply:
    """The reply's site, metrics and weight; ValueError if it carries anything but what may travel
    (a training reply: exactly the shared parameters, packed in `layout`; a final-evaluation
    reply: no arrays)."""
    content = message.content
    if len(content.array_records) != (1 if layout else 0) or len(content.metric_records) != 1:
        raise ValueError("a reply must hold one MetricRecord and, in training, one ArrayRecord")
    if layout is not None:
        arrays = next(iter(content.array_records.values()))
        declared = declared_layout(message)
        if declared is None:
            raise ValueError("the reply does not say which parameters it holds (no readable layout)")
        if declared != layout:
            names, expected = set(declared.names), set(layout.names)
            extra, missing = sorted(names - expected), sorted(expected - names)
            raise ValueError(f"reply parameters differ from the shared set (extra {extra[:3]}, missing {missing[:3]}"
                             f"{'' if extra or missing else ', or their order/shapes'})")
        packed = arrays.get(PACKED_KEY) if set(arrays.keys()) == {PACKED_KEY} else None
        if packed is None or tuple(packed.shape) != (layout.size,) or packed.dtype != "float32":
            raise ValueError(f"a training reply must hold one float32 array {PACKED_KEY!r} of {layout.size} values")
        bad = int(np.count_nonzero(~np.isfinite(packed.numpy())))
        if bad:  # a diverged site: averaged in, it would make the global model NaN for good
            raise ValueError(f"{bad} of its {layout.size} shared values are not finite (NaN or inf): the site diverged")
    metrics = next(iter(content.metric_records.values()))
    if any(isinstance(v, list) for v in metrics.values()):
        raise ValueError("metrics must be scalars")
    if WEIGHT_KEY not in metrics:
        raise ValueError(f"metrics lack {WEIGHT_KEY!r}")
    if not metrics[WEIGHT_KEY] > 0:  # the FedAvg weight: zero would divide by zero, negative would subtract
        raise ValueError(f"{WEIGHT_KEY} is {metrics[WEIGHT_KEY]}; a reply must count at least one training slice")
    if not all(math.isfinite(float(v)) for v in metrics.values()):
        raise ValueError("a metric is not finite: " + ", ".join(k for k, v in metrics.items() if not math.isfinite(float(v))))
    site = str(content.config_records["site"]["name"]) if "site" in content.config_records else "unknown"
    return SiteReply(site, {k: float(v) for k, v in metrics.items() if k != WEIGHT_KEY}, int(metrics[WEIGHT_KEY]))


def messages_to(nodes: Iterable[int], content: RecordDict, message_type: str) -> list[Message]:
    """One message per node, all with the same content (Flower's public Message constructor)."""
    return [Message(content=content, dst_node_id=node, message_type=message_type) for node in nodes]


def wire_bytes(message: Message | RecordDict) -> int:
    """Bytes Flower transfers for a message: every object of its tree (message, records, arrays,
    array chunks) as serialized for the object store, each distinct object once. Walked through
    the public `children`, `object_id` and `deflate()` every flwr.app record and Message has."""
    sizes: dict[str, int] = {}

    def walk(obj) -> None:
        for child in (obj.children or {}).values():
            walk(child)
        sizes[obj.object_id] = len(obj.deflate())

    walk(message)
    return sum(sizes.values())


def describe_reply(message: Message) -> dict:
    """What a reply carried, for the federation's audit log: its arrays, the parameters it declares
    they hold (names and shapes), bytes, metric types."""
    if message.has_error():
        return {"node": message.metadata.src_node_id, "error": message.error.reason}
    content = message.content
    arrays = {name: {"shape": list(array.shape), "dtype": str(array.dtype), "bytes": len(array.data)}
              for record in content.array_records.values() for name, array in record.items()}
    metrics = {key: type(value).__name__ for record in content.metric_records.values() for key, value in record.items()}
    configs = {key: str(value) for record in content.config_records.values() for key, value in record.items()
               if key != "layout"}
    layout = declared_layout(message)
    parameters = {name: list(shape) for name, shape in zip(layout.names, layout.shapes)} if layout else {}
    return {"node": message.metadata.src_node_id, "arrays": arrays, "parameters": parameters, "metrics": metrics,
            "configs": configs,
            "array_bytes": sum(a["bytes"] for a in arrays.values()), "wire_bytes": wire_bytes(message)}


def weighted_metrics(replies: list[SiteReply]) -> dict[str, float]:
    """Slice-weighted mean of the metrics every site reports (site-specific names are left to the site runs)."""
    common = set.intersection(*(set(r.metrics) for r in replies))
    total = sum(r.num_examples for r in replies)
    return {k: sum(r.metrics[k] * r.num_examples for r in replies) / total for k in sorted(common)}


class PmmFedAvg(FedAvg):
    def __init__(self, min_sites: int, expected_sites: int | None, wait_timeout_s: float, layout: Layout,
                 round_offset: int, final_round: int,
                 on_round: Callable[[int, ArrayRecord, list[SiteReply], dict[str, float]], None],
                 audit: Callable[[int, dict], None] = lambda round_number, entry: None):
        super().__init__(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=min_sites,
                         min_evaluate_nodes=min_sites, min_available_nodes=min_sites, weighted_by_key=WEIGHT_KEY)
        self.min_sites, self.wait_timeout_s = min_sites, wait_timeout_s
        self.expected_sites = max(expected_sites or min_sites, min_sites)
        self.first_round = True
        self.layout, self.round_offset, self.on_round = layout, round_offset, on_round
        self.audit = audit
        self.final_round = final_round
        self.on_final: Callable[[int, list[SiteReply]], None] = lambda number, sites: None
        self.on_failure: Callable[[str], None] = lambda failure: None  # said when it happens, not at the end
        self.failures: list[str] = []

    def fail(self, failure: str) -> None:
        """A site's failure in a round: kept for the status and said at once (server log, MLflow)."""
        self.failures.append(failure)
        self.on_failure(failure)

    def wait_for_sites(self, grid: Grid) -> list[int]:
        """Connected nodes once `min_sites` are there (before the first round: `expected_sites`, or
        whoever came within the wait limit); FederationStopped when the limit passes without quorum."""
        wanted = self.expected_sites if self.first_round else self.min_sites
        self.first_round = False
        deadline = time.monotonic() + self.wait_timeout_s
        while len(nodes := list(grid.get_node_ids())) < wanted:
            if time.monotonic() > deadline:
                if len(nodes) >= self.min_sites:
                    return nodes
                raise FederationStopped(f"only {len(nodes)} of the required {self.min_sites} sites connected "
                                        f"within {self.wait_timeout_s:.0f} s; stopping the federation")
            time.sleep(1.0)
        return nodes

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        nodes = self.wait_for_sites(grid)
        config["server-round"] = server_round + self.round_offset
        messages = messages_to(nodes, RecordDict({"arrays": arrays, "config": config}), MessageType.TRAIN)
        if messages:  # the same content goes to every site
            self.audit(server_round + self.round_offset, {"stage": "send", "nodes": len(messages),
                                                          "array_bytes": sum(len(a.data) for a in arrays.values()),
                                                          "wire_bytes": wire_bytes(messages[0])})
        return messages

    def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> tuple[ArrayRecord | None, MetricRecord | None]:
        valid_messages, sites = [], []
        for message in replies:
            self.audit(server_round + self.round_offset, {"stage": "train", **describe_reply(message)})
            if message.has_error():
                self.fail(f"round {server_round + self.round_offset}: node {message.metadata.src_node_id} "
                          f"failed ({message.error.reason})")
                continue
            try:
                sites.append(check_reply(message, self.layout))
                valid_messages.append(message)
            except ValueError as exc:
                self.fail(f"round {server_round + self.round_offset}: node {message.metadata.src_node_id} "
                          f"reply rejected: {exc}")
        if len(sites) < self.min_sites:
            raise FederationStopped(f"round {server_round + self.round_offset}: only {len(sites)} site(s) answered, "
                                    f"fewer than --min-sites {self.min_sites}; the global model of the last "
                                    "completed round is kept")
        order = sorted(range(len(sites)), key=lambda i: (sites[i].site, i))  # the sum is the same whoever answers first
        arrays = aggregate_arrayrecords([valid_messages[i].content for i in order], WEIGHT_KEY)
        if not np.isfinite(arrays[PACKED_KEY].numpy()).all():  # never written: --resume must have a good state
            raise FederationStopped(f"round {server_round + self.round_offset}: the averaged global model is not "
                                    "finite; the global model of the last completed round is kept")
        metrics = weighted_metrics(sites) | {"round/sites": float(len(sites)),
                                             "round/slices": float(sum(s.num_examples for s in sites))}
        self.on_round(server_round + self.round_offset, arrays, sites, metrics)
        return arrays, MetricRecord({k: float(v) for k, v in metrics.items()})

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                           grid: Grid) -> Iterable[Message]:
        """Only after the last round: every site turns the final global network into its model."""
        if server_round + self.round_offset < self.final_round:
            return []
        config["server-round"] = server_round + self.round_offset
        nodes = list(grid.get_node_ids())
        return messages_to(nodes, RecordDict({"arrays": arrays, "config": config}), MessageType.EVALUATE)

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        sites = []
        for message in replies:
            self.audit(server_round + self.round_offset, {"stage": "final", **describe_reply(message)})
            try:
                if message.has_error():
                    raise ValueError(message.error.reason)
                sites.append(check_reply(message, None))
            except ValueError as exc:
                self.fail(f"final model: node {message.metadata.src_node_id}: {exc}")
        if not sites:
            return None
        self.on_final(server_round + self.round_offset, sites)
        return MetricRecord({k: float(v) for k, v in weighted_metrics(sites).items()})

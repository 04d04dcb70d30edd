"""The Flower ClientApp a site's SuperNode runs for every round.

Each message starts a fresh process, so nothing lives in Python globals: the site, its cache and
its state folder come from the SuperNode's node config; the training options from the server's
message. The reply holds the shared parameters (packed, with their layout), scalar metrics and
the site's name, nothing else.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from pmm.client.site_log import SiteLog
from pmm_core.config.federation import FederationOptions
from pmm_core.federated.local_round import LocalRoundSpec, run_local_round, validation_metrics
from pmm_core.federated.packing import PACKED_KEY, Layout, pack, unpack
from pmm_core.federated.site_model import assemble_site_model, write_site_model

app = ClientApp()


def apply_thread_limit(node_config) -> None:
    """`pmm simulate` gives each site a share of the cores (node config `threads`); 0 keeps torch's default."""
    threads = int(node_config.get("threads", 0))
    if threads > 0:
        torch.set_num_threads(threads)


def received_shared(message: Message) -> dict[str, np.ndarray]:
    """The global shared parameters, unpacked with the layout the server sent alongside."""
    layout = Layout.from_json(str(message.content["config"]["layout"]))
    return unpack(message.content["arrays"][PACKED_KEY].numpy(), layout)


@app.train()
def train(message: Message, context: Context) -> Message:
    node = context.node_config
    apply_thread_limit(node)
    site_dir, state_dir = Path(str(node["cache"])), Path(str(node["state"]))
    config = message.content["config"]
    options = FederationOptions.model_validate_json(str(config["federation"]))
    server_round = int(config["server-round"])
    label = f"{config['federation-id']}:{server_round}"
    schedule_epoch = (server_round - 1) * options.local_epochs  # the federation's schedule, not the site's count
    log = SiteLog(state_dir, str(node["site"]))
    log.write(f"round {label}: training {options.local_epochs} local epoch(s) from epoch {schedule_epoch} of the "
              f"federation's {options.training.epochs}-epoch schedule")
    spec = LocalRoundSpec(site_dir=site_dir, state_dir=state_dir, options=options.training, partition=options.partition,
                          local_epochs=options.local_epochs, round_label=label, schedule_epoch=schedule_epoch,
                          round_key=f"{config['federation-uid']}:{server_round}",
                          device=str(node.get("device", "cpu")), progress=False)
    result = run_local_round(spec, received_shared(message), echo=log.write)
    layout = Layout.of(result.shared)  # what this site declares it sends; the server checks it
    content = RecordDict({
        "arrays": ArrayRecord({PACKED_KEY: Array(pack(result.shared, layout))}),
        "metrics": MetricRecord({**result.metrics, "num-examples": result.num_examples}),
        "site": ConfigRecord({"name": str(node["site"]), "layout": layout.to_json()}),
    })
    return Message(content=content, reply_to=message)


@app.evaluate()
def deliver(message: Message, context: Context) -> Message:
    """After the last round: the final global network + this site's personal parameters become
    the site's model (`<state-dir>/<SITE>/model.pt`), scored on its val split."""
    node = context.node_config
    apply_thread_limit(node)
    site_dir, state_dir = Path(str(node["cache"])), Path(str(node["state"]))
    config = message.content["config"]
    options = FederationOptions.model_validate_json(str(config["federation"]))
    model, site = assemble_site_model(site_dir, state_dir, options.training, options.partition, received_shared(message))
    path = write_site_model(model, options.training, site, state_dir, str(config["federation-id"]),
                            int(config["server-round"]))
    metrics, slices = validation_metrics(model, site_dir, options.training, str(node.get("device", "cpu")))
    SiteLog(state_dir, site.name).write(f"final model -> {path} (val mean PSNR {metrics.get('val/mean_psnr', float('nan')):.2f} dB)")
    content = RecordDict({"metrics": MetricRecord({**metrics, "num-examples": max(slices, 1)}),
                          "site": ConfigRecord({"name": site.name})})
    return Message(content=content, reply_to=message)

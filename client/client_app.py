"""The Flower ClientApp a site's SuperNode runs for every round.

Each message starts a fresh process, so nothing lives in Python globals: the site, its cache and
its state folder come from the SuperNode's node config; the training options from the server's
message. The reply holds the shared parameters, scalar metrics and the site's name, nothing else.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from client.site_log import SiteLog
from pmm_core.config.federation import FederationOptions
from pmm_core.federated.local_round import LocalRoundSpec, run_local_round, validation_metrics
from pmm_core.federated.site_model import assemble_site_model, write_site_model

app = ClientApp()


def apply_thread_limit(node_config) -> None:
    """`pmm simulate` gives each site a share of the cores (node config `threads`); 0 keeps torch's default."""
    threads = int(node_config.get("threads", 0))
    if threads > 0:
        torch.set_num_threads(threads)


@app.train()
def train(message: Message, context: Context) -> Message:
    node = context.node_config
    apply_thread_limit(node)
    site_dir, state_dir = Path(str(node["cache"])), Path(str(node["state"]))
    config = message.content["config"]
    options = FederationOptions.model_validate_json(str(config["federation"]))
    label = f"{config['federation-id']}:{int(config['server-round'])}"
    log = SiteLog(state_dir, str(node["site"]))
    log.write(f"round {label}: training {options.local_epochs} local epoch(s)")
    spec = LocalRoundSpec(site_dir=site_dir, state_dir=state_dir, options=options.training, partition=options.partition,
                          local_epochs=options.local_epochs, round_label=label, device=str(node.get("device", "cpu")),
                          progress=False)
    shared = {name: array.numpy() for name, array in message.content["arrays"].items()}
    result = run_local_round(spec, shared, echo=log.write)
    content = RecordDict({
        "arrays": ArrayRecord({name: Array(np.ascontiguousarray(v)) for name, v in result.shared.items()}),
        "metrics": MetricRecord({**result.metrics, "num-examples": result.num_examples}),
        "site": ConfigRecord({"name": str(node["site"])}),
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
    shared = {name: array.numpy() for name, array in message.content["arrays"].items()}
    model, site = assemble_site_model(site_dir, state_dir, options.training, options.partition, shared)
    path = write_site_model(model, options.training, site, state_dir, str(config["federation-id"]),
                            int(config["server-round"]))
    metrics, slices = validation_metrics(model, site_dir, options.training, str(node.get("device", "cpu")))
    SiteLog(state_dir, site["name"]).write(f"final model -> {path} (val mean PSNR {metrics.get('val/mean_psnr', float('nan')):.2f} dB)")
    content = RecordDict({"metrics": MetricRecord({**metrics, "num-examples": max(slices, 1)}),
                          "site": ConfigRecord({"name": site["name"]})})
    return Message(content=content, reply_to=message)

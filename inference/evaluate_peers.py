"""Other models scored beside the one `pmm evaluate` is asked about (`--peer`, e.g. a pix2pix run).

A reader judges a synthesis by what it does with the lesion next to what another method does on
the same slices: each peer is scored on the same site, split and protocols (no baselines: those
come with the main model's table), for the tasks it can serve (a pix2pix model has one), and its
slice with the largest lesion per task becomes a column of the evaluation's montage.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from pmm.inference.model_loading import TrainedModel
from pmm.inference.model_source import load_model
from pmm_core.data.records import SiteFingerprint
from pmm_core.evaluation.evaluate import Example, evaluate_site
from pmm_core.evaluation.report import evaluation_rows, format_table
from pmm_core.tasks import Task


@dataclass
class PeerScore:
    label: str
    source: str
    rows: list[dict]
    examples: list[Example]


def peer_label(method_label: str, taken: set[str]) -> str:
    """The method's label ("pix2pix", "MM-GAN"), numbered when it is already a column."""
    label, number = method_label, 2
    while label in taken:
        label, number = f"{method_label} {number}", number + 1
    return label


def load_peers(peers: list[str | Path], device: torch.device, tracking_uri: str | None) -> list[tuple[str, TrainedModel]]:
    """(source, model) of every peer, loaded before anything is scored or written, so a peer that
    is not a model fails the evaluation in one line with nothing half written."""
    return [(str(source), load_model(source, device, tracking_uri)) for source in peers]


def score_peers(peers: list[tuple[str, TrainedModel]], site_dir: Path, fingerprint: SiteFingerprint, tasks: list[Task],
                split: str, device: torch.device, batch_size: int, protocols: tuple[str, ...],
                echo: Callable[[str], None]) -> list[PeerScore]:
    """Each peer's rows (its method renamed to its label) and montage slices on `tasks`."""
    scored, taken = [], {"pmm"}
    for source, peer in peers:
        label = peer_label(peer.method.label, taken)
        taken.add(label)
        own = [task for task in tasks if peer.refusal(list(task.sources), task.target) is None]
        if not own:
            echo(f"note: peer {source} ({label}) can synthesize none of the tasks scored here; it is left out")
            continue
        known = peer.site(fingerprint.site)
        if known is not None:
            known.refuse_seen_cases(fingerprint, split, source)
        result = evaluate_site(peer.model, site_dir, own, split, device, batch_size, peer.options.min_brain_fraction,
                               baselines=False, standardization=known.intensity if known else None,
                               protocols=protocols, precision=peer.precision)
        rows = [row | {"method": label} for row in evaluation_rows(result)]
        echo(f"\npeer {label} ({source}):")
        echo(format_table([row | {"method": "pmm"} for row in rows], label))
        scored.append(PeerScore(label, source, rows, result.examples))
    return scored

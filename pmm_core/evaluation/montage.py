"""Evaluation montage: one row per task, columns sources | truth | synthesis (and any peer's) | |error|.

Each row shows the slice of the split with the largest lesion (`evaluate.Example`), its outline
drawn on the truth and on every synthesis, so a reader sees at once whether the pathology was
synthesized or only the healthy tissue around it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pmm_core.evaluation.evaluate import Example


def montage_figure(site: str, examples: list[Example], model_label: str = "synthesis",
                   peers: dict[str, list[Example]] | None = None) -> Any:
    """`peers`: another model's examples of the same slices (label → examples, matched by task),
    shown beside this model's synthesis; |error| is this model's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peers = peers or {}
    rows = []
    for example in examples:
        panels = [(f"source {i + 1}", example.sources[i], False) for i in range(example.sources.shape[0])]
        panels += [("truth", example.truth, True), (model_label, example.synthesis, True)]
        for label, others in peers.items():
            other = next((o for o in others if o.task == example.task), None)
            if other is not None:
                panels.append((label, other.synthesis, True))
        panels.append(("|error|", np.abs(example.synthesis - example.truth), False))
        rows.append(panels)
    columns = max(len(panels) for panels in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.9 * columns, 2.0 * len(rows)), squeeze=False)
    for row, (example, panels) in enumerate(zip(examples, rows)):
        for column in range(columns):
            axis = axes[row, column]
            axis.axis("off")
            if column < len(panels):
                title, image, outlined = panels[column]
                axis.imshow(image, cmap="gray", vmin=0, vmax=1)
                if outlined and example.lesion is not None and example.lesion.any():
                    axis.contour(example.lesion, levels=[0.5], colors="red", linewidths=0.5)
                axis.set_title(f"{example.task}\n{title}" if column == 0 else title, fontsize=7)
        where = f"{example.case}, slice {example.slice_index}" + (", largest lesion" if example.lesion is not None else "")
        axes[row, 0].text(0, -0.35, where, transform=axes[row, 0].transAxes, fontsize=6)
    figure.suptitle(site, fontsize=9)
    figure.tight_layout()
    return figure

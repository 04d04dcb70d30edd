"""Validation montage: one row per task, columns sources | synthesis | truth | |error|."""
from __future__ import annotations

from typing import Any

import numpy as np

from pmm_core.evaluation.evaluate import Example


def montage_figure(site: str, examples: list[Example]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(e.sources.shape[0] for e in examples) + 3
    figure, axes = plt.subplots(len(examples), columns, figsize=(1.9 * columns, 2.0 * len(examples)), squeeze=False)
    for row, example in enumerate(examples):
        panels = [(f"source {i + 1}", s) for i, s in enumerate(example.sources)]
        panels += [("synthesis", example.synthesis), ("truth", example.truth),
                   ("|error|", np.abs(example.synthesis - example.truth))]
        for column in range(columns):
            axis = axes[row, column]
            axis.axis("off")
            if column < len(panels):
                title, image = panels[column]
                axis.imshow(image, cmap="gray", vmin=0, vmax=1)
                axis.set_title(f"{example.task}\n{title}" if column == 0 else title, fontsize=7)
    figure.suptitle(site, fontsize=9)
    figure.tight_layout()
    return figure

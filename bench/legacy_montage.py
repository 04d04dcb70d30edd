"""The montage pmm drew before it tiled the panels, kept only as `montage_cost`'s baseline.

One matplotlib axes per panel (35 for a six-modality site), each with its own image, contour
and title, then `tight_layout`. Not used by pmm itself.
"""
from __future__ import annotations

from typing import Any

from pmm_core.evaluation.evaluate import Example
from pmm_core.evaluation.montage import row_panels


def legacy_montage_figure(site: str, examples: list[Example], model_label: str = "synthesis",
                          peers: dict[str, list[Example]] | None = None) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row_panels(example, model_label, peers or {}) for example in examples]
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

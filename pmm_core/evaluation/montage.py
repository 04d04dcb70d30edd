"""Evaluation montage: one row per task, columns sources | truth | synthesis (and any peer's) | |error|.

Each row shows the slice of the split with the largest lesion (`evaluate.Example`), its outline
drawn on the truth and on every synthesis, so a reader sees at once whether the pathology was
synthesized or only the healthy tissue around it.

The panels are tiled into one image drawn on one set of axes, with one contour call for every
outline. Training draws a montage per site at every validation; with one axes per panel (about
20 for a site's four tasks) most of a montage's time went into creating and laying out the axes,
whatever the slice size (`python -m bench.montage_cost` times both ways).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pmm_core.evaluation.evaluate import Example

PANEL_INCHES = 1.3         # one panel's width: about 130 pixels at matplotlib's 100 dpi, as before
SUPTITLE_INCHES = 0.3      # above the panels: the site's name
TITLE_SPACE = 0.42         # of a panel's height, above it: a two-line title (task, then column)
GAP = 0.06                 # of a panel's width, between columns


def row_panels(example: Example, model_label: str, peers: dict[str, list[Example]]) -> list[tuple[str, np.ndarray, bool]]:
    """(title, image, outlined) for one row: sources, truth, synthesis, peers, |error|."""
    panels = [(f"source {i + 1}", example.sources[i], False) for i in range(example.sources.shape[0])]
    panels += [("truth", example.truth, True), (model_label, example.synthesis, True)]
    for label, others in peers.items():
        other = next((o for o in others if o.task == example.task), None)
        if other is not None:
            panels.append((label, other.synthesis, True))
    panels.append(("|error|", np.abs(example.synthesis - example.truth), False))
    return panels


def montage_figure(site: str, examples: list[Example], model_label: str = "synthesis",
                   peers: dict[str, list[Example]] | None = None) -> Any:
    """`peers`: another model's examples of the same slices (label → examples, matched by task),
    shown beside this model's synthesis; |error| is this model's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row_panels(example, model_label, peers or {}) for example in examples]
    columns = max(len(panels) for panels in rows)
    height, width = (max(image.shape[i] for panels in rows for _, image, _ in panels) for i in (0, 1))
    top, gap = int(round(TITLE_SPACE * height)), int(round(GAP * width))
    step_y, step_x = height + top, width + gap
    # below the last row: the room its case line takes under every other row
    canvas = np.full((len(rows) * step_y + top // 3, columns * step_x - gap), np.nan, dtype=np.float32)
    outline = np.zeros(canvas.shape, dtype=np.float32)
    inches = PANEL_INCHES * columns
    figure = plt.figure(figsize=(inches, inches * canvas.shape[0] / canvas.shape[1] + SUPTITLE_INCHES))
    axis = figure.add_axes((0.0, 0.0, 1.0, 1.0 - SUPTITLE_INCHES / figure.get_figheight()))
    axis.axis("off")
    for row, (example, panels) in enumerate(zip(examples, rows)):
        y = row * step_y + top
        for column, (title, image, outlined) in enumerate(panels):
            x = column * step_x
            canvas[y:y + image.shape[0], x:x + image.shape[1]] = image
            if outlined and example.lesion is not None and example.lesion.any():
                outline[y:y + image.shape[0], x:x + image.shape[1]] = example.lesion
            axis.text(x + width / 2, y - 0.03 * height, f"{example.task}\n{title}" if column == 0 else title,
                      ha="center", va="bottom", fontsize=7)
        where = f"{example.case}, slice {example.slice_index}" + (", largest lesion" if example.lesion is not None else "")
        axis.text(0, y + height + 0.02 * height, where, ha="left", va="top", fontsize=6)
    colours = matplotlib.colormaps["gray"].with_extremes(bad="white")
    axis.imshow(np.clip(canvas, 0, 1), cmap=colours, vmin=0, vmax=1, interpolation="nearest")
    if outline.any():
        axis.contour(outline, levels=[0.5], colors="red", linewidths=0.5)
    axis.set_xlim(-0.5, canvas.shape[1] - 0.5)
    axis.set_ylim(canvas.shape[0] - 0.5, -0.5)
    figure.suptitle(site, fontsize=9)
    return figure

"""What a validation montage costs: one tiled image against one axes per panel, side by side.

Training draws a montage per site at every validation (`centralized.trainer`), `pmm evaluate`
one per site, and the pathology experiment one per site and variant; each is written as a PNG
(MLflow's `log_figure`). Both ways draw the same panels: the slice with the largest lesion of a
full-size phantom case of each site, every paper task of the site as a row (four per site, up
to three sources), with the prediction and a peer drawn as the truth slightly darkened (speed does
not depend on the pixels' values, only on how many there are). CPU seconds per montage.
"""
from __future__ import annotations

import argparse
import io
import time

import numpy as np

from bench.common import write_results
from bench.legacy_montage import legacy_montage_figure
from pmm_core.evaluation.evaluate import Example
from pmm_core.evaluation.montage import montage_figure, row_panels
from pmm_core.phantom.generator import CaseSynthesizer
from pmm_core.phantom.sites import SITES
from pmm_core.tasks import default_tasks


def _panel(image: np.ndarray, crop: int, order: int = 1) -> np.ndarray:
    from scipy.ndimage import zoom

    return zoom(image.astype(np.float32), (crop / image.shape[0], crop / image.shape[1]), order=order)[:crop, :crop]


def site_examples(site, full: bool, crop: int) -> list[Example]:
    """Every paper task of `site` on the axial slice of its phantom case with the largest lesion,
    each modality's slice at the same height scaled to [0, 1] and resized to `crop` pixels."""
    rng = np.random.default_rng([0, site.dataset_id])
    case = CaseSynthesizer(site, 1 if full else 2, not full, rng).make(site.name, site.modalities)
    label = case.label.data if case.label is not None else None
    depth = case.images[site.modalities[0]].data.shape[2]
    height = int(np.argmax((label > 0).sum(axis=(0, 1)))) / label.shape[2] if label is not None and label.any() else 0.5
    slices = {}
    for modality in site.modalities:
        volume = case.images[modality].data
        image = _panel(volume[:, :, min(int(height * volume.shape[2]), volume.shape[2] - 1)], crop)
        slices[modality] = np.clip(image / max(float(np.percentile(image, 99.5)), 1e-6), 0, 1)
    lesion = None
    if label is not None and label.any():
        lesion = _panel(label[:, :, int(height * label.shape[2])] > 0, crop, order=0) > 0
    examples = []
    for task in default_tasks(site.name, site.modalities):
        truth = slices[task.target]
        examples.append(Example(f"{','.join(task.sources)}->{task.target}", np.stack([slices[m] for m in task.sources]),
                                truth * 0.9, truth, site.name, int(height * depth), lesion))
    return examples


def peer_of(examples: list[Example]) -> dict[str, list[Example]]:
    """A peer model's examples of the same slices: the truth darker still."""
    return {"peer": [Example(e.task, e.sources, e.truth * 0.8, e.truth, e.case, e.slice_index, e.lesion) for e in examples]}


def cpu_seconds(draw, examples: list[Example], repeats: int) -> tuple[float, float, int]:
    """(figure, PNG) CPU seconds per montage, median over `repeats`, and the PNG's bytes."""
    import matplotlib.pyplot as plt

    figures, writes = [], []
    for _ in range(repeats):
        start = time.process_time()
        figure = draw("site", examples, "pmm", peer_of(examples))
        drawn = time.process_time()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        figures.append(drawn - start)
        writes.append(time.process_time() - drawn)
    return float(np.median(figures)), float(np.median(writes)), len(buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("full", "test"), default="full", help="phantom size (default: native)")
    parser.add_argument("--crop", type=int, default=192, help="panel size in pixels (pmm's crop: 192)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sites", nargs="+", default=[s.name for s in SITES], choices=[s.name for s in SITES])
    args = parser.parse_args(argv)
    print(f"montage_cost: one montage per site, {args.crop}x{args.crop} panels, tiled against one axes per panel")
    rows = []
    for site in (s for s in SITES if s.name in args.sites):
        examples = site_examples(site, args.size == "full", args.crop)
        row = {"site": site.name, "tasks": len(examples), "panels": sum(len(row_panels(e, "pmm", peer_of(examples))) for e in examples)}
        for name, draw in (("tiled", montage_figure), ("per_axes", legacy_montage_figure)):
            figure_s, png_s, size = cpu_seconds(draw, examples, args.repeats)
            row |= {f"{name}_figure_s": round(figure_s, 3), f"{name}_png_s": round(png_s, 3),
                    f"{name}_total_s": round(figure_s + png_s, 3), f"{name}_png_kib": size // 1024}
        row["speedup"] = round(row["per_axes_total_s"] / row["tiled_total_s"], 1)
        rows.append(row)
        print(f"{site.name}: tiled {row['tiled_total_s']:.2f} s, one axes per panel {row['per_axes_total_s']:.2f} s "
              f"({row['speedup']}x)")
    table = ["| site | tasks | panels | tiled: figure + PNG s | one axes per panel: figure + PNG s | speed-up | PNG KiB (tiled / per axes) |",
             "|---|---|---|---|---|---|---|"]
    table += [f"| {r['site']} | {r['tasks']} | {r['panels']} | {r['tiled_figure_s']} + {r['tiled_png_s']} | "
              f"{r['per_axes_figure_s']} + {r['per_axes_png_s']} | {r['speedup']}x | {r['tiled_png_kib']} / {r['per_axes_png_kib']} |"
              for r in rows]
    write_results("montage_cost", {"config": vars(args), "rows": rows}, table)


if __name__ == "__main__":
    main()

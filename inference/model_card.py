"""The model card an exported package carries (`MODEL_CARD.md`), in the sections of Hugging
Face's model-card template: details, uses and out-of-scope uses, risks and limitations, how to
start, training, evaluation (with the linear baselines beside the model), technical details.

It is written from what the package records, never by hand, so it cannot claim what the model
was not: the sites and cases it saw, how long it trained, and how it scored against a linear
intensity map of its best source (which already gets healthy tissue right; a synthesis earns its
place on the lesion).
"""
from __future__ import annotations

from typing import Any

from pmm_core.config.training import TrainingOptions
from pmm_core.data.records import SiteRecord

METHOD_NAMES = {"pmm-synth": "PMM-Synth (Uni-Synth backbone with Personalized Feature Modulation)",
                "pix2pix": "pix2pix (U-Net + PatchGAN), one task", "mmgan": "MM-GAN (one U-Net over all modalities)"}
BASELINE_LABELS = {"pmm": "this model", "match": "source matched (linear)", "linear": "linear LS"}


def _value(mean: float | None, digits: int) -> str:
    return "–" if mean is None else f"{mean:.{digits}f}"


def _evaluation_section(rows: list[dict[str, Any]]) -> list[str]:
    rows = [row for row in rows if row.get("protocol", "model") == "model" and row.get("method") in BASELINE_LABELS]
    if not rows:
        return ["No evaluation was run before export (`pmm evaluate --checkpoint ... --site ...` writes the tables "
                "that a later export includes). Judge the model on your own held-out cases before use."]
    lines = ["Test split of each training site, in the model's intensity scale, mean over cases. PSNR in dB; "
             "'lesion' scores only the labelled pathology (none where a site has no labels). The linear baselines "
             "map the best source's intensities onto the target (fitted on the training split): a synthesis "
             "that does not beat them inside the lesion adds nothing a linear map does not.", ""]
    for site in dict.fromkeys(row["site"] for row in rows):
        lines += [f"**{site}**", "", "| task | method | PSNR | SSIM | lesion PSNR | lesion contrast (1 = right) | cases |",
                  "|---|---|---|---|---|---|---|"]
        for row in (r for r in rows if r["site"] == site):
            lines.append(f"| {row['task']} | {BASELINE_LABELS[row['method']]} | {_value(row.get('psnr_mean'), 2)} | "
                         f"{_value(row.get('ssim_mean'), 3)} | {_value(row.get('psnr_lesion_mean'), 2)} | "
                         f"{_value(row.get('contrast_mean'), 2)} | {int(row.get('cases') or 0)} |")
        lines.append("")
    return lines


def _site_lines(records: list[SiteRecord], summary: dict[str, Any]) -> list[str]:
    if not records:
        return ["None recorded: this is a federation's shared network. Each hospital's dataset embedding and "
                "intensity standardization stayed at the hospital; a site fits its own before synthesizing."]
    lines = ["| site | dataset id | modalities | train / val / test cases | training cases by availability |",
             "|---|---|---|---|---|"]
    for record in records:
        info = summary.get("sites", {}).get(record.name, {})
        cases = info.get("cases") or {}
        split = " / ".join(str(cases.get(s, "?")) for s in ("train", "val", "test")) if cases else "not recorded"
        patterns = info.get("training_cases_by_availability")
        pattern_text = ", ".join(f"{p}: {n}" for p, n in patterns.items()) if patterns else "not recorded"
        lines.append(f"| {record.name} | {record.dataset_id} | {', '.join(record.modalities)} | {split} | {pattern_text} |")
    return lines


def model_card(name: str, kind: str, options: TrainingOptions, records: list[SiteRecord], summary: dict[str, Any],
               rows: list[dict[str, Any]], source: str, licence: str = "other") -> str:
    sites = ", ".join(r.name for r in records) or "none (federation's shared network)"
    modalities = sorted({m for r in records for m in r.modalities})
    trained_with = summary.get("trained_with", {})
    pathology = summary.get("pathology", {})
    recipe = ("the paper's recipe (no pathology oversampling, no lesion weight, no mirroring or transposing)"
              if not pathology.get("lesion_weight") and pathology.get("oversampling", 1) == 1
              and not pathology.get("mirroring") and not pathology.get("transposing") else
              f"pathology oversampling {pathology.get('oversampling')}x and lesion weight {pathology.get('lesion_weight')}"
              f"{', slices mirrored at random' if pathology.get('mirroring') else ''}"
              f"{', batches transposed at random' if pathology.get('transposing') else ''} (beyond the paper)")
    started = summary.get("started_from")
    federation = (f"federated training, federation {summary['federation']} round {summary.get('federation_round')}"
                  if summary.get("federation") else
                  f"federated training, after round {summary.get('federation_round')} of {summary.get('rounds')}"
                  if kind == "federated-global" else "centralized training")
    lines = [
        "---", f"license: {licence}", "library_name: pmm",
        "tags: [medical-imaging, mri, image-synthesis, brain, pmm, " + options.method + "]", "---", "",
        f"# Model card: {name}", "",
        "## Model details", "",
        f"- **Model type:** {METHOD_NAMES.get(options.method, options.method)}; synthesizes a missing brain-MRI "
        "sequence slice by slice from the sequences a case has.",
        f"- **Sites it knows:** {sites}. Each has its own dataset embedding and intensity scale; a case from another "
        "site is synthesized with an embedding the model never trained.",
        f"- **Modalities:** {', '.join(modalities) or 'as its sites had them'}.",
        f"- **Exported from:** `{source}` ({'a federation' if kind == 'federated-global' else 'a trained model'}), "
        f"trained by pmm {trained_with.get('version', 'unknown')} (commit {trained_with.get('commit', 'unknown')}).",
        f"- **Licence of the weights:** {licence}. pmm's code is Apache-2.0; weights carry the terms of the data "
        "they were trained on, which the exporter states here.", "",
        "## Uses", "", "### Intended use", "",
        "Research: completing multi-sequence brain-MRI datasets whose cases lack a sequence (for example so that a "
        "segmentation model that needs all four BraTS sequences can run), and studying synthesis across sites.", "",
        "### Out-of-scope use", "",
        "- **A synthesized image is not an acquisition.** It must not be read for diagnosis, treatment or follow-up "
        "decisions; every file pmm writes with this model is labelled SYNTHETIC in its header and sidecar.",
        "- Sequences, field strengths, body parts or pathologies unlike the training sites'.",
        "- Cases from a site the model was not trained on, without checking it there first.", "",
        "## Bias, risks and limitations", "",
        "- Healthy tissue is the easy part; pathology (an enhancing rim, oedema, an infarct) is where a synthesis "
        "fails first. Compare the lesion columns below with the linear baselines before trusting a lesion.",
        "- A lesion brighter than any in the training split can be clipped by the site's learned intensity scale.",
        "- Trained on the cases below only; scanner, protocol and population outside them are untested.", "",
        "## How to get started", "",
        "```bash", f"pmm synthesize --checkpoint {name}.pmm --site SITE --input T1=t1.nii.gz --input T2=t2.nii.gz "
        "--target FLAIR --out flair_synthetic.nii.gz", "```", "", "```python",
        "from pmm.inference.api import Synthesizer", "",
        f"model = Synthesizer.load(\"{name}.pmm\")",
        "image = model.synthesize({\"T1\": \"t1.nii.gz\", \"T2\": \"t2.nii.gz\"}, target=\"FLAIR\", site=\"SITE\")", "```", "",
        "## Training details", "", "### Training data", "", *_site_lines(records, summary), "",
        "### Training procedure", "",
        f"- {federation}; {summary.get('epochs_completed', summary.get('epochs'))} of {summary.get('epochs')} epochs, "
        f"{summary.get('steps', '?')} steps, batch {summary.get('batch_size', options.batch_size)}, learning rate "
        f"{options.learning_rate} (linear decay from epoch {options.decay_start}), "
        f"MCBS {'on' if options.mcbs else 'off'}, PFM {'on' if options.model.pfm else 'off'}.",
        f"- Recipe: {recipe}.",
        f"- Model selected by: {summary.get('selected_by') or 'the last round'}"
        + (f" (best val PSNR {summary['best_val_psnr']} dB)" if summary.get("best_val_psnr") is not None else "") + ".",
        f"- Started from: {started['name']} (SHA-256 {started['sha256'][:16]}...)." if started else
        "- Started from: a random initialisation.", "",
        "## Evaluation", "", *_evaluation_section(rows), "",
        "## Technical specifications", "",
        f"- Architecture options: base channels {options.model.base_channels}, residual blocks "
        f"{options.model.residual_blocks}, embedding {options.model.embedding_dim}; precision {options.precision}.",
        "- Weights: `weights.safetensors` in this package (no pickle); the package's SHA-256 is in `NAME.pmm.sha256` "
        "and in every synthetic image's sidecar.", "",
        "## Citation", "",
        "Towards Personalized Multi-Modal MRI Synthesis across Heterogeneous Datasets (PMM-Synth).", "",
    ]
    return "\n".join(lines)

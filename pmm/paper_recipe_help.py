"""The `--paper-recipe` help text of every training command, written from pmm's default pathology
options so that a changed default never leaves the help describing the old one."""
from __future__ import annotations

from pmm_core.config.model import PathologyOptions


def paper_recipe_help() -> str:
    default = PathologyOptions()
    parts = [f"draws slices with a lesion {default.oversampling:g}x as often inside each MCBS group",
             f"weighs the L1 inside the lesion label {1 + default.lesion_weight:g}x"]
    if default.mirroring:
        parts.append("flips each training slice at random along each in-plane axis")
    if default.transposing:
        parts.append("swaps each training batch's in-plane axes at random")
    return ("Train with the paper's recipe exactly: no pathology oversampling, no lesion-weighted L1, no mirroring "
            "or transposing "
            f"(pmm's default {', '.join(parts[:-1])} and {parts[-1]}; docs/RESULTS.md).")

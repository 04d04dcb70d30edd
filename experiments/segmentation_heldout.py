"""Held-out cases for the segmentation experiment: more test cases than the split leaves a site.

The full setting's 20 cases a site, split 70/10/20, leave four test cases. With four, "the share
of the Dice a missing modality costs that its synthesis gives back" is a coin toss: its
denominator is the difference of two four-case means, and two phantom draws of the same setting
gave a synthesized T1C 59 % and 38 % of the tumour core's lost Dice, a synthesized DWI 52 % and
163 % of the infarct's (docs/RESULTS.md, "DWI"). `[extra] heldout_cases = N` scores every way on N
more cases per site as well: the next N cases of the site's own random stream, the ones the same
hospital, with the same scanners, acquires after the experiment's phantom was written. They are
never in the prepared phantom, so no synthesis model and no U-Net trains on them, and the
training setting (cases, split, epochs) stays the one being judged.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from pmm.experiments.workspace import Workspace
from pmm_core.errors import PmmError
from pmm_core.phantom.federation import case_id_for, write_federation
from pmm_core.phantom.sites import SITES


def heldout_setting(value) -> int:
    """`[extra] heldout_cases`: a whole number of cases per site, 0 (the default) for none."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PmmError(f"[extra] heldout_cases = {value!r}; give a whole number of cases per site, 0 for none")
    return value


def heldout_site(space: Workspace, site: str, count: int) -> tuple[Path, list[str]]:
    """The site file of a phantom site written with `count` cases more than the experiment's, and
    the ids of those extra cases. Written once under the experiment's phantom and reused; the
    marker comes last, so an interrupted write is redone."""
    before = space.settings.cases_per_site
    folder = space.phantom / f"heldout-{count}"
    record = {"site": site, "cases_per_site": before + count, "seed": space.settings.seed}
    marker = folder / f"{site}.READY"
    try:
        done = json.loads(marker.read_text()) == record
    except (OSError, ValueError):
        done = False
    if not done:
        shutil.rmtree(folder / site, ignore_errors=True)
        space.echo(f"writing {count} held-out {site} cases (after the phantom's {before}) -> {folder / site}")
        write_federation(folder, cases_per_site=before + count, seed=space.settings.seed, progress=False,
                         sites=(site,))
        marker.write_text(json.dumps(record))
    phantom_site = next(s for s in SITES if s.name == site)
    return folder / "sites" / f"{site.lower()}.toml", [case_id_for(phantom_site, i) for i in range(before, before + count)]

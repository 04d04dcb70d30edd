"""The site a trained model synthesizes for: the user's site TOML (where the data is and how it is
laid out) in the model's input space (what the model was trained on).

A model records, for each site, the site file's options it was prepared with (but the data's
root and the split). Of them, the grid (crop, in-plane spacing) and the intensity
standardization are the model's input space and override the TOML's: a partner's copy of
`ttg.toml` with another crop would feed the model images it never saw. Registration and skull
stripping depend on the data at hand and stay the TOML's. Without a TOML of that name, the
site is built from the model's record alone, on the folder given (a cohort, or one patient's
files given by hand).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from pmm.inference.model_loading import TrainedModel
from pmm_core.config.site import SiteConfig, find_site_file, load_site
from pmm_core.data.records import SiteRecord
from pmm_core.errors import PmmError

MODEL_SPACE_KEYS = ("crop_size", "in_plane_spacing", "intensity", "percentiles", "intensity_headroom")


def site_from_record(record: SiteRecord, root: Path) -> SiteConfig | None:
    """The site as the model recorded it, its data in `root`; None when the record predates pmm
    keeping the site's options (or another pmm wrote them)."""
    if record.site_options is None:
        return None
    try:
        return SiteConfig.model_validate(record.site_options | {"root": str(Path(root).resolve())})
    except ValidationError:
        return None


def in_model_space(site: SiteConfig, trained: TrainedModel) -> SiteConfig:
    record = trained.site(site.name)
    recorded = site_from_record(record, Path(".")) if record is not None else None
    if recorded is None:
        return site
    update = {key: getattr(recorded.preprocess, key) for key in MODEL_SPACE_KEYS}
    return site.model_copy(update={"preprocess": site.preprocess.model_copy(update=update)})


def site_for_model(trained: TrainedModel, site: str, root: Path | None = None, one_patient: bool = False) -> SiteConfig:
    """`site` (a name or a TOML) as the model synthesizes for it. Without a site file of that name
    here, the model's own record of the site with its data in `root` (a cohort's folder), or for
    `one_patient` (whose files are given by hand) in none; one line when neither exists."""
    try:
        return in_model_space(load_site(find_site_file(site)), trained)
    except PmmError as missing:
        record = trained.site(site) if (root is not None or one_patient) else None
        built = site_from_record(record, root or Path(".")) if record is not None else None
        if built is None:
            if trained.site(site) is not None and root is None and not one_patient:
                raise PmmError(f"{missing}; or give the folder of the cases (--cohort DIR), laid out as "
                               f"{trained.path.name} recorded site {site}") from None
            raise missing from None
        return built

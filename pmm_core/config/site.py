"""The site TOML: where a site's data lives, its layout and coverage.

Relative paths resolve against the TOML file's folder so a `sites/` folder can be moved together
with the data it points to. Preprocessing defaults depend on the layout: in-house (`generic`)
scans are raw, BraTS is already skull-stripped and co-registered, ISLES'22 has FLAIR on its own
grid.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pmm_core.config.registration import RegistrationOptions
from pmm_core.config.toml_loading import load_toml_model
from pmm_core.errors import PmmError
from pmm_core.modalities import MODALITIES, canonical_modality

SHIPPED_SITES = "pmm.sites"  # the package the shipped site files are installed as

Layout = Literal["generic", "brats", "isles2022"]
IntensityScheme = Literal["tissue", "percentile"]  # what each means: pmm_core.data.intensity

LAYOUT_DEFAULTS: dict[str, dict[str, bool]] = {
    "generic": {"register": True, "skull_strip": True},
    "brats": {"register": False, "skull_strip": False},
    "isles2022": {"register": True, "skull_strip": False},
}


class PreprocessOptions(BaseModel):
    """How a case becomes arrays in one reference space. `None` means the layout's default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # `register` is the TOML key; the attribute has another name because BaseModel has a `register`.
    rigid_registration: bool | None = Field(None, alias="register")
    skull_strip: bool | None = None
    crop_size: int = Field(192, ge=8, le=1024, description="in-plane size after center crop/pad")
    in_plane_spacing: float | None = Field(
        1.0, gt=0, description="in-plane voxel size (mm) of the output grid; None keeps the reference's"
    )
    intensity: IntensityScheme = Field(
        "tissue", description="intensity standardization: 'tissue' (healthy-tissue anchored, learned on the "
        "training split) or 'percentile' (each volume's own brain percentiles)")
    percentiles: tuple[float, float] = Field((0.5, 99.5), description="the percentile scheme's brain window")
    intensity_headroom: float = Field(
        0.0, ge=0.0, le=4.0, description="tissue scheme, beyond the paper: the learned upper bound is raised by this "
        "fraction (0.5: 1.5 times the brightest training tissue maps to 1), so a new case's lesion brighter than "
        "any training case is not clipped; 0 keeps the bound as learned")
    registration: RegistrationOptions = Field(default_factory=RegistrationOptions)

    @field_validator("percentiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0.0 <= low < high <= 100.0:
            raise ValueError("must be two increasing numbers between 0 and 100")
        return value

    def resolved(self, layout: str) -> "PreprocessOptions":
        """A copy with `register` and `skull_strip` filled from the layout's defaults."""
        defaults = LAYOUT_DEFAULTS[layout]
        return self.model_copy(
            update={
                "rigid_registration": (
                    defaults["register"] if self.rigid_registration is None else self.rigid_registration
                ),
                "skull_strip": defaults["skull_strip"] if self.skull_strip is None else self.skull_strip,
            }
        )


def _resolved_path(value: Path, info: ValidationInfo) -> Path:
    """`value` with ~ expanded, relative to the site TOML's folder when it is relative."""
    base = (info.context or {}).get("base_dir")
    value = Path(os.path.expanduser(str(value)))
    if not value.is_absolute() and base is not None:
        value = Path(base) / value
    return value.resolve() if value.is_absolute() else value


class SplitOptions(BaseModel):
    """Seeded case-level train/val/test split: no case is in two splits.

    The first `pmm prepare` draws it; the cache's `splits.json` then freezes it, so cases added
    later are assigned without moving the others. `file`: a split of your own (JSON
    {"train": [...], "val": [...], "test": [...]}, nnU-Net's `splits_final.json` fold in one).
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    val_fraction: float = Field(0.1, ge=0, lt=1)
    test_fraction: float = Field(0.2, ge=0, lt=1)
    file: Path | None = Field(None, description="your own split (JSON lists train/val/test), relative to the TOML")

    @field_validator("file")
    @classmethod
    def _resolve_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolved_path(value, info)

    @model_validator(mode="after")
    def _leaves_training(self) -> "SplitOptions":
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave cases for training")
        return self


def _declared_modality(name: str) -> str:
    """Canonical modality name, or a ValueError pydantic reports under the key being validated."""
    try:
        return canonical_modality(name)
    except PmmError as exc:
        raise ValueError(str(exc)) from None


class SiteConfig(BaseModel):
    """One data source: a hospital or a public dataset."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    dataset_id: int = Field(ge=0, le=1023)
    root: Path
    layout: Layout
    modalities: list[str] = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    label: str | None = Field(None, description="generic layout: glob of the label file in a case folder")
    case_glob: str = Field("*", description="generic layout: which sub-folders of root are cases")
    preprocess: PreprocessOptions = Field(default_factory=PreprocessOptions)
    split: SplitOptions = Field(default_factory=SplitOptions)
    source: Path | None = Field(None, exclude=True, description="the TOML file this came from")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if any(ch in value for ch in "/\\ ,"):
            raise ValueError("must not contain '/', '\\', spaces or commas")
        return value

    @field_validator("modalities")
    @classmethod
    def _known_modalities(cls, value: list[str]) -> list[str]:
        names = [_declared_modality(item) for item in value]
        if len(set(names)) != len(names):
            raise ValueError("a modality is listed twice")
        return sorted(names, key=MODALITIES.index)

    @field_validator("root")
    @classmethod
    def _resolve_root(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolved_path(value, info)

    @model_validator(mode="after")
    def _files_match_layout(self) -> "SiteConfig":
        if self.layout != "generic":
            if self.files:
                raise ValueError(f"[files] is only for layout 'generic', not {self.layout!r}")
            return self
        canonical: dict[str, str] = {}
        for key, pattern in self.files.items():
            name = _declared_modality(key)
            if name not in self.modalities:
                raise ValueError(f"[files] key {key!r} is a modality the site does not declare in 'modalities'")
            canonical[name] = pattern
        missing = [m for m in self.modalities if m not in canonical]
        if missing:
            raise ValueError(f"[files] needs a glob for every declared modality; missing {', '.join(missing)}")
        self.files = canonical
        return self

    @property
    def preprocessing(self) -> PreprocessOptions:
        """Preprocessing options with the layout's defaults filled in."""
        return self.preprocess.resolved(self.layout)


def load_site(path: Path) -> SiteConfig:
    """Load and validate a site TOML; relative paths resolve against its folder (a shipped site
    file's against ./sites, where a copy of it would be: see `shipped_sites_dir`)."""
    path = Path(path).resolve()
    shipped = shipped_sites_dir()
    base = Path.cwd() / "sites" if shipped is not None and path.parent == shipped.resolve() else path.parent
    site = load_toml_model(path, SiteConfig, context={"base_dir": base})
    site.source = path
    return site


def shipped_sites_dir() -> Path | None:
    """The folder of the site files installed with pmm (the `pmm.sites` package: the repository's
    sites/ in a source checkout). Found by name, not imported: pmm_core sits below pmm."""
    spec = importlib.util.find_spec(SHIPPED_SITES)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def default_site_dirs() -> list[Path]:
    """Folders searched for `--site NAME`: $PMM_SITES_DIR, ./sites, then the site files pmm ships."""
    dirs = []
    if os.environ.get("PMM_SITES_DIR"):
        dirs.extend(Path(p) for p in os.environ["PMM_SITES_DIR"].split(os.pathsep) if p)
    dirs.append(Path.cwd() / "sites")
    if (shipped := shipped_sites_dir()) is not None:
        dirs.append(shipped)
    return dirs


def find_site_file(name_or_path: str, search_dirs: list[Path] | None = None) -> Path:
    """A site TOML from a path, or from a site name looked up (case-insensitively) in the sites folders."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise PmmError(f"{candidate}: site file not found")
        return candidate
    wanted = name_or_path.lower()
    searched = []
    for folder in search_dirs if search_dirs is not None else default_site_dirs():
        if not folder.is_dir():
            continue
        searched.append(str(folder))
        for toml_file in sorted(folder.glob("*.toml")):
            if toml_file.stem.lower() == wanted:
                return toml_file
    raise PmmError(
        f"site {name_or_path!r} not found in {', '.join(searched) or 'any sites folder'}: "
        "pass a site TOML path or set PMM_SITES_DIR"
    )

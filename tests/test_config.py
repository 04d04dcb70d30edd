"""Site TOMLs: the shipped four load, bad files fail with one line naming file and key."""
from __future__ import annotations

from pathlib import Path

import pytest

from pmm_core.config import find_site_file, load_site, load_training_options
from pmm_core.errors import PmmError

PROJECT_SITES = Path(__file__).resolve().parents[1] / "sites"


@pytest.mark.parametrize("name,layout,count", [("ttg", "generic", 6), ("tti", "generic", 4), ("brats", "brats", 4), ("isles", "isles2022", 3)])
def test_paper_sites_load(name: str, layout: str, count: int) -> None:
    site = load_site(PROJECT_SITES / f"{name}.toml")
    assert site.layout == layout and len(site.modalities) == count
    assert site.root == (PROJECT_SITES.parent / "data" / site.name).resolve()


def test_layout_defaults_fill_preprocessing() -> None:
    assert load_site(PROJECT_SITES / "brats.toml").preprocessing.rigid_registration is False
    isles = load_site(PROJECT_SITES / "isles.toml").preprocessing
    assert isles.rigid_registration is True and isles.skull_strip is False
    assert load_site(PROJECT_SITES / "ttg.toml").preprocessing.skull_strip is True


def test_site_found_by_name_case_insensitively() -> None:
    assert find_site_file("TTG", [PROJECT_SITES]).name == "ttg.toml"
    with pytest.raises(PmmError, match="site 'NOPE' not found"):
        find_site_file("NOPE", [PROJECT_SITES])


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


BASE = 'name = "X"\ndataset_id = 0\nroot = "."\nlayout = "brats"\nmodalities = ["T1"]\n'


@pytest.mark.parametrize(
    "text,expected",
    [
        (BASE.replace('["T1"]', '["T1", "PD"]'), "key 'modalities': unknown modality 'PD'"),
        (BASE + "[preprocess]\nskull_strip = \"perhaps\"\n", "key 'preprocess.skull_strip'"),
        (BASE + "colour = 1\n", "key 'colour'"),
        (BASE.replace('layout = "brats"', 'layout = "nifti"'), "key 'layout'"),
        ('name = "X"\ndataset_id = 0\nroot = "."\nlayout = "generic"\nmodalities = ["T1"]\n[files]\nT1 = "*"\nDWI = "*"\n',
         "[files] key 'DWI' is a modality the site does not declare"),
        ('name = "X"\ndataset_id = 0\nroot = "."\nlayout = "generic"\nmodalities = ["T1", "T2"]\n[files]\nT1 = "*"\n',
         "missing T2"),
        ("name = \n", "invalid TOML"),
    ],
)
def test_bad_site_toml_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PmmError) as info:
        load_site(path)
    message = str(info.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_training_options_defaults_are_the_papers(tmp_path: Path) -> None:
    options = load_training_options(None)
    assert (options.batch_size, options.learning_rate, options.betas) == (16, 2e-4, (0.5, 0.999))
    path = _write(tmp_path, "batch_size = 0\n")
    with pytest.raises(PmmError, match="key 'batch_size'"):
        load_training_options(path)


def test_federation_settings_declare_what_is_shared(tmp_path: Path) -> None:
    from pmm.server.settings import build_server_settings

    config = tmp_path / "training.toml"
    config.write_text("epochs = 3\nbatch_size = 2\n")
    default = build_server_settings(tmp_path / "fed", rounds=4, min_sites=2, training=load_training_options(config))
    assert default.name == "fed" and default.federation.rounds == 4 and default.federation.training.batch_size == 2
    assert default.federation.partition.shared == ("generator", "modulation")
    personal = build_server_settings(tmp_path, 1, 1, name="run", personal_modulation=True, share_discriminators=True)
    assert personal.name == "run" and personal.federation.partition.shared == ("generator", "discriminators")
    with pytest.raises(PmmError, match="federation options: .*rounds"):
        build_server_settings(tmp_path, rounds=0, min_sites=1)


def test_options_validate_assignments() -> None:
    """Programs change options by assignment; a bad value fails there, not later in training."""
    from pydantic import ValidationError

    from pmm_core.config.model import ModelOptions
    from pmm_core.config.training import TrainingOptions

    model = ModelOptions()
    with pytest.raises(ValidationError, match="base_channels"):
        model.base_channels = 0
    with pytest.raises(ValidationError, match="batch_size"):
        TrainingOptions().batch_size = 0

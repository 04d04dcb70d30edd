"""Pydantic models per concern (site, preprocessing, training) and TOML loading."""
from __future__ import annotations

from pmm_core.config.site import PreprocessOptions, SiteConfig, SplitOptions, find_site_file, load_site
from pmm_core.config.toml_loading import load_toml_model
from pmm_core.config.training import TrainingOptions, load_training_options

__all__ = [
    "PreprocessOptions",
    "SiteConfig",
    "SplitOptions",
    "TrainingOptions",
    "find_site_file",
    "load_site",
    "load_toml_model",
    "load_training_options",
]

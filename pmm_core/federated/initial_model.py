"""The model every site and the server start a federation from (its own module so the server,
which never trains, builds it without importing the training loop)."""
from __future__ import annotations

import torch

from pmm_core.config.training import TrainingOptions
from pmm_core.methods import build_method_model


def build_site_model(options: TrainingOptions) -> torch.nn.Module:
    """Seeded, so every site starts from the same weights; the sinusoidal encoding of each site's
    dataset id already makes its embedding its own."""
    torch.manual_seed(options.seed)
    return build_method_model(options)

"""pmm_core: the library half of pmm.

Config schemas, data (readers, preprocessing, cache, dataset, samplers), and later the model,
losses and metrics. It imports torch, numpy, nibabel, SimpleITK and pydantic, never flwr,
mlflow or typer, so the centralized trainer, the Flower client and the server share one core.
"""
from __future__ import annotations

__all__ = ["MODALITIES", "PmmError"]

from pmm_core.errors import PmmError
from pmm_core.modalities import MODALITIES

"""Personalized Feature Modulation (PFM), as in the paper.

D_emb = MLP(sinusoidal(n)) is the site's dataset embedding; every convolutional block owns a
small MLP mapping D_emb to (γ, β) = chunk(MLP(D_emb)), and modulates its features as
F̂ = F·(γ+1)+β. The last layer of each block MLP starts at zero, so an untrained PFM is the
identity and the backbone's behaviour at initialisation does not depend on the site. Like
MONAI's SPADE block, modulation is applied right after normalisation.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_encoding(dataset_ids: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) integer ids → (B, dim) transformer-style sine/cosine encoding."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, device=dataset_ids.device, dtype=torch.float32) / half)
    angles = dataset_ids.float()[:, None] * frequencies[None]
    encoding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2:
        encoding = torch.cat([encoding, torch.zeros_like(encoding[:, :1])], dim=1)
    return encoding


class DatasetEmbedding(nn.Module):
    """n → D_emb: the site's personal parameters in the federation."""

    def __init__(self, encoding_dim: int, embedding_dim: int):
        super().__init__()
        self.encoding_dim = encoding_dim
        self.mlp = nn.Sequential(nn.Linear(encoding_dim, embedding_dim), nn.SiLU(), nn.Linear(embedding_dim, embedding_dim))

    def forward(self, dataset_ids: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_encoding(dataset_ids, self.encoding_dim))


class FeatureModulation(nn.Module):
    """One block's (γ, β) MLP. Features (B, C, H, W), D_emb (B, E) → F·(γ+1)+β."""

    def __init__(self, embedding_dim: int, channels: int, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(embedding_dim, hidden), nn.SiLU(), nn.Linear(hidden, 2 * channels))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.mlp(embedding).chunk(2, dim=1)
        return features * (gamma[:, :, None, None] + 1) + beta[:, :, None, None]

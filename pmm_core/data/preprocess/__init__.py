"""Preprocessing (paper §Pre-processing): one case → arrays in one reference space.

Steps, each in its own module: reorient the reference modality and plan the output grid
(`grid`), rigid mutual-information registration (`registration`), brain mask (`brain_mask`),
per-modality percentile normalisation (`normalize`); `pipeline` chains them.
"""

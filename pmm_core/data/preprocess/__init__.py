"""Preprocessing (paper §Pre-processing): one case → arrays in one reference space.

Steps, each in its own module: reorient the reference modality and plan the output grid
(`grid`), rigid mutual-information registration (`registration`), brain mask (`brain_mask`),
each volume's intensities measured and divided by its healthy-tissue anchor
(`intensity_stats`; the schemes themselves are in `pmm_core.data.intensity`); `pipeline` chains them.
"""

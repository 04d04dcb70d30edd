"""Data half of pmm_core: readers, preprocessing, cache, slice dataset and samplers."""

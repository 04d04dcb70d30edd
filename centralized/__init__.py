"""Centralized training, evaluation and synthesis: loops over pmm_core, one process or torchrun."""

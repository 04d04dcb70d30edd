"""The federation server: a thin Flower adapter (SuperLink launcher, ServerApp, FedAvg with
pmm's checkpointing, bounded waits and MLflow logging) over pmm_core."""

"""Process plumbing of `pmm serve`, `pmm client` and `pmm simulate`: starting Flower's SuperLink,
SuperNodes and the MLflow UI as child processes that end with pmm (installed as pmm.runtime)."""

"""`pmm experiment`: the paper's evaluation reproduced on the phantom federation.

Each experiment is one config (experiments/configs/<name>.toml, with a `[quick]` table that CI
can afford), runs through the same code paths users run (`pmm prepare`, `train-central`,
`simulate`, `evaluate`), logs every run to the MLflow experiment `experiments`, and writes its
section of docs/RESULTS.md with the exact command behind every number.
"""

"""The site files pmm ships (BraTS, ISLES'22 and the paper's two in-house cohorts), installed as
`pmm.sites` so that `pmm prepare --site BraTS` finds them without a source checkout. Their
relative paths (`root = "../data/BraTS"`) resolve as if the file were in `./sites` of the
folder pmm runs in: the data goes in `./data/BraTS`. A `./sites/brats.toml` of your own
comes first."""

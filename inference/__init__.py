"""Everything a trained model goes through after training, whichever trainer made it (a
centralized run's best.pt or a federated site's model.pt): loading it, synthesizing one case or
a cohort, completing a dataset in its own layout, labelling what is synthetic, and the
evaluation run (installed as pmm.inference)."""

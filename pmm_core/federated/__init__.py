"""Federated building blocks that know nothing of Flower: the shared/personal partition of the
parameters, a site's persistent state folder and the local training of one round."""

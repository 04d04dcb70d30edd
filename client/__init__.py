"""A hospital's node: a thin Flower adapter (SuperNode launcher and ClientApp) over pmm_core's
local round."""

"""`pmm simulate`: a whole federation on one machine, a server and one SuperNode per site, each its
own process. It sits above both roles (pmm.server and pmm.client meet only through Flower) and is
installed as pmm.simulation."""

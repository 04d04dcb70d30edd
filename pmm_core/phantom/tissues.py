"""Per-tissue relaxation times, proton density and diffusivity at 1.5 T and 3 T.

Values are rounded literature figures for adult brain (relaxometry reviews, e.g. Wansapura
1999 at 3 T, Gelman 2001, Stanisz 2005; ADC from stroke and glioma series). They need to be
plausible and ordered correctly, not exact: the point is that each site's protocol turns the
same anatomy into its own contrast, which is the shift PFM has to absorb.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tissue:
    t1_15: float   # ms at 1.5 T
    t1_3: float    # ms at 3 T
    t2_15: float   # ms
    t2_3: float    # ms
    pd: float      # relative proton density
    adc: float     # 1e-3 mm^2/s
    gd_uptake: float = 0.0  # gadolinium concentration after contrast (mM)
    flow_void: bool = False  # flowing blood: spin echoes and diffusion see (almost) no signal

    def t1(self, field: float) -> float:
        return self.t1_3 if field >= 2.0 else self.t1_15

    def t2(self, field: float) -> float:
        return self.t2_3 if field >= 2.0 else self.t2_15


TISSUES: dict[str, Tissue] = {
    "wm": Tissue(650, 850, 80, 70, 0.70, 0.70),
    "gm": Tissue(1100, 1350, 95, 85, 0.82, 0.80),
    "csf": Tissue(4000, 4300, 2000, 1800, 1.00, 3.00),
    "bone": Tissue(500, 550, 2, 1, 0.05, 0.05),
    "scalp": Tissue(260, 380, 80, 70, 0.90, 0.05),   # mostly fat: short T1, bright on T1
    "edema": Tissue(1200, 1500, 150, 130, 0.88, 1.40),
    "necrosis": Tissue(2500, 2800, 400, 350, 0.95, 2.20),
    "enhancing": Tissue(1100, 1300, 110, 100, 0.85, 1.00, gd_uptake=0.6),
    "ms_lesion": Tissue(1000, 1250, 130, 115, 0.82, 1.05),
    # an infarct by its age (`INFARCT_STAGES`); all three are bright on DWI
    "infarct_hyperacute": Tissue(900, 1100, 90, 78, 0.78, 0.42),  # hours: diffusion restricted, T2 not yet longer
    "infarct_acute": Tissue(1000, 1200, 110, 100, 0.86, 0.40),     # a day or two: oedema lengthens T2 as well
    "infarct_subacute": Tissue(1150, 1400, 150, 135, 0.90, 0.75),  # a week or more: T2 long, ADC back to normal
    # normal structures that enhance: cortical veins and sinuses (blood pool), and the dura
    "vessel": Tissue(1450, 1900, 180, 150, 0.90, 3.00, gd_uptake=1.2, flow_void=True),
    "dura": Tissue(900, 1000, 60, 50, 0.55, 0.90, gd_uptake=0.5),
}

FLOW_VOID_SIGNAL = 0.08  # what is left of flowing blood's signal in spin-echo, inversion and diffusion images

GADOLINIUM_R1 = 4.0  # relaxivity, 1/(mM·s)

# The textbook evolution of an ischaemic infarct on MR, and why stroke readers start from DWI:
# within hours diffusion is restricted (dark on ADC, bright on DWI) while T2 is still normal, so
# FLAIR shows nothing (the DWI-FLAIR mismatch that dates a stroke of unknown onset); over the next
# day oedema lengthens T2 and FLAIR turns bright; after about a week ADC climbs back to normal
# ("pseudonormalisation") while DWI stays bright through its long T2 ("T2 shine-through"). Only DWI
# shows the infarct at every age; ISLES'22 holds acute and subacute strokes alike.
INFARCT_STAGES = ("hyperacute", "acute", "subacute")

# BraTS label values of the glioma compartments (2021 convention)
BRATS_LABELS = {"necrosis": 1, "edema": 2, "enhancing": 4}

"""The phantom federation: four sites that behave like the paper's (TTG, TTI, BraTS, ISLES'22).

Anatomy comes from the ICBM152 2009 template shipped inside nilearn (no download), warped per
subject; contrast comes from MR signal equations over per-tissue T1/T2/PD/ADC; each site has its
own protocol, field strength, noise, geometry, pathology and file layout. The files go through
exactly the path real data takes: NIfTI on disk → site TOML → `pmm prepare`.
"""

"""Evaluation: the paper's tasks per site, slice-wise PSNR/SSIM, linear baselines."""

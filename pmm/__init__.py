"""The `pmm` command line: argument parsing and error reporting only; the work is in pmm_core."""

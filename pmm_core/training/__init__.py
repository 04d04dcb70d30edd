"""What both trainers share: synthesis-condition sampling, selective losses, one training step."""

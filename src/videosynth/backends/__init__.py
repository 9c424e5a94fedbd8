"""Generation backends. Only ``wan`` imports torch/diffusers, and only when a generator is built."""

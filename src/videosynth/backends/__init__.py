"""What makes a task's video: the ``Backend`` seam (base.py) and one module per backend, chosen by the registry entry's
``backend`` through factories.py. Only ``wan`` imports torch/diffusers, and only when it is built."""

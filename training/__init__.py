"""Training for the expression classifier (PyTorch; the `train` extra, never an edge dependency)."""

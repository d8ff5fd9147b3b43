"""Anonymous per-camera face tracks and per-track smoothing of expression probabilities."""

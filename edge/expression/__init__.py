"""Facial expression classification at the edge (onnxruntime); its evaluation tools live in training/."""

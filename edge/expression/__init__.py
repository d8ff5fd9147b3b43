"""Facial expression classification (onnxruntime) and its evaluation."""

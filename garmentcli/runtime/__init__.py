"""Inference: onnxruntime and torch backends, letterboxing, and the batch predictor."""

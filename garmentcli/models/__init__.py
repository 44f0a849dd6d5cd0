"""The garment network, its target codec, model files (ONNX + card), export and lookup."""

"""Models shipped inside the package: ``name.onnx`` with its ``name.json`` card (see ``garmentkp models``)."""

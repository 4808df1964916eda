"""Export: ONNX, importer of the reference weights."""

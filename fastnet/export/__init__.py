"""Exporting models for inference elsewhere: ``model.export(path, format="onnx")``."""

from fastnet.export.onnx import export_onnx

__all__ = ["export_onnx"]

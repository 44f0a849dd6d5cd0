"""Garment measurements in centimetres: definitions (data), calibration from the photo, and the batch runner."""

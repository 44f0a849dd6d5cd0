"""Garment facts as data: the DeepFashion2 layout, the FLD schema, and the annotation records."""

from garmentcli.schema.layout import DF2, NUM_LANDMARKS, Category, Layout, mirror_name
from garmentcli.schema.records import AnnotationSet, Garment, ImageRecord

__all__ = [
    "DF2",
    "NUM_LANDMARKS",
    "AnnotationSet",
    "Category",
    "Garment",
    "ImageRecord",
    "Layout",
    "mirror_name",
]

"""Datasets of the course: the embedded synthetic shapes and real-dataset loaders, one sample type for all."""

from camlib.data.cub import CUB
from camlib.data.folder import DatasetNotFoundError, ImageFolder, data_dir
from camlib.data.pets import OxfordPets
from camlib.data.sample import Batch, Sample, collate
from camlib.data.shapes import PRESETS, Shapes, ShapesConfig

__all__ = [
    "CUB",
    "PRESETS",
    "Batch",
    "DatasetNotFoundError",
    "ImageFolder",
    "OxfordPets",
    "Sample",
    "Shapes",
    "ShapesConfig",
    "collate",
    "data_dir",
]

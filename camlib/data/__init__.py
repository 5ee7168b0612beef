"""Datasets of the course: the embedded synthetic shapes and real-dataset loaders, one sample type for all.

Every dataset follows one protocol (:class:`SampleDataset`: ``len``, ``class_names``, ``ds[i] -> Sample``,
``ds.batch(indices, device) -> Batch``).

What lives where:

- :mod:`camlib.data.sample`: :class:`Sample`, :class:`Batch`, :func:`collate`, the protocol, and the bases of the
  photo datasets (:class:`CollatedDataset`, :class:`SampleList`, :func:`as_dataset`).
- :mod:`camlib.data.shapes`: the embedded dataset (config, dataset, scene, classes, drawing, random streams).
- :mod:`camlib.data.folder`, :mod:`camlib.data.pets`, :mod:`camlib.data.cub`: photos (an image folder of your own,
  Oxford-IIIT Pet, CUB-200-2011).
"""

from camlib.data.cub import CUB
from camlib.data.folder import DatasetNotFoundError, ImageFileError, ImageFolder
from camlib.data.pets import OxfordPets
from camlib.data.sample import (
    Batch,
    CollatedDataset,
    Sample,
    SampleDataset,
    SampleList,
    as_dataset,
    collate,
    index_tensor,
)
from camlib.data.shapes import PRESETS, Shapes, ShapesConfig

__all__ = [
    "CUB",
    "PRESETS",
    "Batch",
    "CollatedDataset",
    "DatasetNotFoundError",
    "ImageFileError",
    "ImageFolder",
    "OxfordPets",
    "Sample",
    "SampleDataset",
    "SampleList",
    "Shapes",
    "ShapesConfig",
    "as_dataset",
    "collate",
    "index_tensor",
]

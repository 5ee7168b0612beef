"""Datasets of the course: the embedded synthetic shapes and real-dataset loaders, one sample type for all."""

from camlib.data.sample import Batch, Sample, collate

__all__ = ["Batch", "Sample", "collate"]

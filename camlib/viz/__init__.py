"""Figures of the course: sample grids with boxes, CAM overlays and grids, learning and BoxAcc curves, the CAM
pipeline, the accuracy-localization trade-off.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing is left open in
pyplot's figure registry (no leak, no ``plt.show()``); Jupyter displays a returned figure, ``fig.savefig`` writes
it. Boxes are torchvision XYXY in pixels with exclusive right/bottom edges.

What lives where:

- :mod:`camlib.viz.colours`: the box colours of every figure and of the explorer.
- :mod:`camlib.viz.figures`: overlays, sample and CAM grids, learning curves.
- :mod:`camlib.viz.curves`: BoxAcc against tau, one panel per IoU threshold, with marked taus.
- :mod:`camlib.viz.labels`: the words of figures: predicted class with ✓ / ✗.
- :mod:`camlib.viz.maps`: a grid of maps (rows of images, columns of maps).
- :mod:`camlib.viz.panels`: dataset statistics, rows of samples, grids of small feature or CAM maps.
- :mod:`camlib.viz.scenes`: one scene of several objects, each network's top-k class maps.
- :mod:`camlib.viz.pipeline`: the CAM pipeline (the paper's Fig. 2) drawn from a real model and image.
- :mod:`camlib.viz.tradeoff`: accuracy and localization against epochs, with the maps of the same images.
"""

from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR, rgb255
from camlib.viz.curves import plot_box_acc_curves, plot_box_acc_taus
from camlib.viz.figures import (
    box_patch,
    image_hwc,
    overlay,
    plot_history,
    show_cams,
    show_samples,
)
from camlib.viz.labels import prediction_titles, verdict
from camlib.viz.maps import show_map_grid
from camlib.viz.panels import plot_dataset_stats, show_maps, show_rows
from camlib.viz.pipeline import PipelineNumbers, cam_pipeline_numbers, plot_cam_pipeline
from camlib.viz.scenes import show_scene_topk
from camlib.viz.tradeoff import MapRow, plot_tradeoff

__all__ = [
    "show_scene_topk",
    "GT_COLOUR",
    "PART_COLOUR",
    "PRED_COLOUR",
    "MapRow",
    "PipelineNumbers",
    "box_patch",
    "cam_pipeline_numbers",
    "image_hwc",
    "overlay",
    "plot_box_acc_curves",
    "plot_box_acc_taus",
    "plot_cam_pipeline",
    "plot_dataset_stats",
    "plot_history",
    "plot_tradeoff",
    "prediction_titles",
    "rgb255",
    "show_cams",
    "show_map_grid",
    "show_maps",
    "show_rows",
    "show_samples",
    "verdict",
]

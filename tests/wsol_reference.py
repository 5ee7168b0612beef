"""clovaai/wsolevaluation's box and mask evaluation, transliterated to run here (a TEST helper, not part of
camlib): the ground truth camlib's ``convention="wsolevaluation"`` is checked against.

Transliterated (not copied) from clovaai/wsolevaluation: ``evaluation.py`` (``calculate_multiple_iou``,
``resize_bbox``, ``compute_bboxes_from_scoremaps``, ``BoxEvaluator``, ``MaskEvaluator``), ``inference.py``
(``normalize_scoremap`` and the ``cv2.resize(..., interpolation=cv2.INTER_CUBIC)`` of each CAM in
``CAMComputer.compute_and_evaluate_cams``) and ``util.py`` (``check_scoremap_validity``,
``check_box_convention``). Every operation and dtype is kept; the only changes are the ones needed to run
without their dataset files and on NumPy 2:

* ``np.float`` (removed in NumPy 1.24) is ``np.float64``.
* The evaluators take the ground truth directly (``accumulate(scoremap, gt_boxes)`` with boxes already passed
  through :func:`resize_bbox`; ``accumulate(scoremap, gt_mask)`` with the mask :func:`get_mask` would build)
  instead of reading metadata, and ``MaskEvaluator.compute`` does not print.

What the reference does, step by step (the differences from camlib are listed in
:class:`camlib.metrics.MaxBoxAccMeter`):

1. ``resize_cam``: the CAM is resized to the input size with bicubic ``cv2.resize`` (``dsize=image_size`` where
   ``image_size = images.shape[2:]`` is (H, W) although OpenCV reads (W, H): harmless for 224 x 224 crops).
2. ``normalize_scoremap``: float64 ``cam -= cam.min(); cam /= cam.max()`` IN PLACE; a constant map or one with
   a NaN becomes all zeros.
3. ``compute_bboxes_from_scoremaps``: 8-bit quantisation ``(scoremap * 255).astype(np.uint8)`` (truncation),
   then per tau ``cv2.threshold(thresh=int(tau * max_u8), THRESH_BINARY)``: a pixel is kept when its 8-bit value
   is STRICTLY greater than the cut. ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)`` returns the outer
   border of every 8-connected component AND the border of every hole. Box per contour:
   ``cv2.boundingRect`` -> ``(x, y, x + w, y + h)`` with ``x1 = min(x1, width - 1)``, ``y1 = min(y1, height - 1)``.
   No contour -> the box ``[0, 0, 0, 0]``. With ``multi_contour_eval=False`` only
   ``max(contours, key=cv2.contourArea)`` is kept.
4. ``calculate_multiple_iou``: integer boxes with "+1" inclusive widths and heights; IoU in float64.
5. ``BoxEvaluator``: an image counts at tau when the best IoU over its boxes x GT boxes is
   ``>= iou_threshold / 100``; MaxBoxAcc is the max over tau of the % of images.
6. Threshold grid ``np.arange(0, 1, cam_curve_interval)``: ``cam_curve_interval`` defaults to 0.001 in
   ``config.py`` (training, ``main.py``), ``CAMComputer`` and ``evaluate_wsol``, but to 0.01 on the
   ``evaluation.py`` command line. ``config.py`` also defaults ``multi_contour_eval=True``,
   ``multi_iou_eval=True`` (``box_v2_metric``) and ``iou_threshold_list=[30, 50, 70]``; the ``evaluation.py``
   command line defaults both flags to False.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

_CONTOUR_INDEX = 1 if cv2.__version__.split(".")[0] == "3" else 0  # OpenCV 3 returns (image, contours, hier.)


def check_scoremap_validity(scoremap: np.ndarray) -> None:
    """util.py: a 2-D float64 array in [0, 1] without NaN, else TypeError / ValueError."""
    if not isinstance(scoremap, np.ndarray):
        raise TypeError(f"Scoremap must be a numpy array; it is {type(scoremap)}.")
    if scoremap.dtype != np.float64:
        raise TypeError(f"Scoremap must be of np.float type; it is of {scoremap.dtype} type.")
    if len(scoremap.shape) != 2:
        raise ValueError(f"Scoremap must be a 2D array; it is {len(scoremap.shape)}D.")
    if np.isnan(scoremap).any():
        raise ValueError("Scoremap must not contain nans.")
    if (scoremap > 1).any() or (scoremap < 0).any():
        raise ValueError(
            f"Scoremap must be in range [0, 1].scoremap.min()={scoremap.min()}, scoremap.max()={scoremap.max()}."
        )


def check_box_convention(boxes: np.ndarray, convention: str) -> None:
    """util.py: non-negative (4,) or (n, 4) boxes with non-negative widths, else RuntimeError."""
    if (boxes < 0).any():
        raise RuntimeError("Box coordinates must be non-negative.")
    if len(boxes.shape) == 1:
        boxes = np.expand_dims(boxes, 0)
    elif len(boxes.shape) != 2:
        raise RuntimeError("Box array must have dimension (4) or (num_boxes, 4).")
    if boxes.shape[1] != 4:
        raise RuntimeError("Box array must have dimension (4) or (num_boxes, 4).")
    if convention == "x0y0x1y1":
        widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    elif convention == "xywh":
        widths, heights = boxes[:, 2], boxes[:, 3]
    else:
        raise ValueError(f"Unknown convention {convention}.")
    if (widths < 0).any() or (heights < 0).any():
        raise RuntimeError(f"Boxes do not follow the {convention} convention.")


def calculate_multiple_iou(box_a: np.ndarray, box_b: np.ndarray) -> np.ndarray:
    """evaluation.py: (num_a, num_b) IoUs of x0y0x1y1 boxes, with "+1" (inclusive) widths and heights."""
    num_a, num_b = box_a.shape[0], box_b.shape[0]
    check_box_convention(box_a, "x0y0x1y1")
    check_box_convention(box_b, "x0y0x1y1")
    box_a = np.expand_dims(np.tile(box_a, num_b), axis=1).reshape((num_a, num_b, -1))  # (A, B, 4)
    box_b = np.expand_dims(np.tile(box_b, num_a), axis=1).reshape((num_b, num_a, -1))  # (B, A, 4)
    box_b = np.transpose(box_b, (1, 0, 2))  # (A, B, 4)
    min_x = np.maximum(box_a[:, :, 0], box_b[:, :, 0])
    min_y = np.maximum(box_a[:, :, 1], box_b[:, :, 1])
    max_x = np.minimum(box_a[:, :, 2], box_b[:, :, 2])
    max_y = np.minimum(box_a[:, :, 3], box_b[:, :, 3])
    area_intersect = np.maximum(0, max_x - min_x + 1) * np.maximum(0, max_y - min_y + 1)
    area_a = (box_a[:, :, 2] - box_a[:, :, 0] + 1) * (box_a[:, :, 3] - box_a[:, :, 1] + 1)
    area_b = (box_b[:, :, 2] - box_b[:, :, 0] + 1) * (box_b[:, :, 3] - box_b[:, :, 1] + 1)
    denominator = area_a + area_b - area_intersect
    degenerate_indices = np.where(denominator <= 0)
    denominator[degenerate_indices] = 1
    ious = area_intersect / denominator
    ious[degenerate_indices] = 0
    return ious


def resize_bbox(
    box: Sequence[float], image_size: Sequence[int], resize_size: Sequence[int]
) -> tuple[int, ...]:
    """evaluation.py: scale an x0y0x1y1 box from ``image_size`` (w, h) to ``resize_size`` (w, h), then ``int()``."""
    check_box_convention(np.array(box), "x0y0x1y1")
    box_x0, box_y0, box_x1, box_y1 = map(float, box)
    image_w, image_h = map(float, image_size)
    new_image_w, new_image_h = map(float, resize_size)
    return (
        int(box_x0 * new_image_w / image_w),
        int(box_y0 * new_image_h / image_h),
        int(box_x1 * new_image_w / image_w),
        int(box_y1 * new_image_h / image_h),
    )


def normalize_scoremap(cam: np.ndarray) -> np.ndarray:
    """inference.py: min-max to [0, 1] IN PLACE (float64); NaN or constant -> zeros."""
    if np.isnan(cam).any():
        return np.zeros_like(cam)
    if cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


def resize_cam(cam: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """inference.py ``CAMComputer``: ``cv2.resize(cam, image_size, interpolation=cv2.INTER_CUBIC)``, where
    ``image_size`` is ``images.shape[2:]``; follow with :func:`normalize_scoremap`."""
    return cv2.resize(cam, image_size, interpolation=cv2.INTER_CUBIC)


def compute_bboxes_from_scoremaps(
    scoremap: np.ndarray, scoremap_threshold_list: Sequence[float], multi_contour_eval: bool = False
) -> tuple[list[np.ndarray], list[int]]:
    """evaluation.py: per tau, the boxes of the contours of the 8-bit mask (see the module docstring) and
    their number; ``[[0, 0, 0, 0]]`` (counted as one box) where the mask is empty."""
    check_scoremap_validity(scoremap)
    height, width = scoremap.shape
    scoremap_image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)  # (H, W, 1)

    def scoremap2bbox(threshold: float) -> tuple[np.ndarray, int]:
        _, thr_gray_heatmap = cv2.threshold(
            src=scoremap_image,
            thresh=int(threshold * np.max(scoremap_image)),
            maxval=255,
            type=cv2.THRESH_BINARY,
        )
        contours = cv2.findContours(
            image=thr_gray_heatmap, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_SIMPLE
        )[_CONTOUR_INDEX]
        if len(contours) == 0:
            return np.asarray([[0, 0, 0, 0]]), 1
        if not multi_contour_eval:
            contours = [max(contours, key=cv2.contourArea)]
        estimated_boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            x0, y0, x1, y1 = x, y, x + w, y + h
            x1 = min(x1, width - 1)
            y1 = min(y1, height - 1)
            estimated_boxes.append([x0, y0, x1, y1])
        return np.asarray(estimated_boxes), len(contours)

    estimated_boxes_at_each_thr, number_of_box_list = [], []
    for threshold in scoremap_threshold_list:
        boxes, number_of_box = scoremap2bbox(threshold)
        estimated_boxes_at_each_thr.append(boxes)
        number_of_box_list.append(number_of_box)
    return estimated_boxes_at_each_thr, number_of_box_list


class BoxEvaluator:
    """evaluation.py ``BoxEvaluator``: BoxAcc(tau, delta) counts over images, one ``accumulate`` per image.

    Args:
        cam_threshold_list: the taus, ``list(np.arange(0, 1, cam_curve_interval))``.
        iou_threshold_list: deltas in percent, e.g. [30, 50, 70].
        multi_contour_eval: True: every contour's box (MaxBoxAccV2); False: the largest contour's (MaxBoxAcc).
    """

    def __init__(
        self, cam_threshold_list: Sequence[float], iou_threshold_list: Sequence[int], multi_contour_eval: bool
    ) -> None:
        self.cam_threshold_list = cam_threshold_list
        self.iou_threshold_list = iou_threshold_list
        self.multi_contour_eval = multi_contour_eval
        self.cnt = 0
        self.num_correct = {t: np.zeros(len(cam_threshold_list)) for t in iou_threshold_list}

    def accumulate(self, scoremap: np.ndarray, gt_boxes: np.ndarray | Sequence[Sequence[int]]) -> None:
        """Count one (H, W) float64 scoremap in [0, 1] against its GT boxes (as :func:`resize_bbox` gives)."""
        boxes_at_thresholds, number_of_box_list = compute_bboxes_from_scoremaps(
            scoremap=scoremap,
            scoremap_threshold_list=self.cam_threshold_list,
            multi_contour_eval=self.multi_contour_eval,
        )
        all_boxes = np.concatenate(boxes_at_thresholds, axis=0)  # the reference reuses the name
        multiple_iou = calculate_multiple_iou(np.array(all_boxes), np.array(gt_boxes))
        idx = 0
        sliced_multiple_iou = []
        for nr_box in number_of_box_list:
            sliced_multiple_iou.append(max(multiple_iou.max(1)[idx : idx + nr_box]))
            idx += nr_box
        for threshold in self.iou_threshold_list:
            correct_threshold_indices = np.where(np.asarray(sliced_multiple_iou) >= (threshold / 100))[0]
            self.num_correct[threshold][correct_threshold_indices] += 1
        self.cnt += 1

    def compute(self) -> list[float]:
        """Per delta, max over tau of BoxAcc in %."""
        return [float((self.num_correct[t] * 100.0 / float(self.cnt)).max()) for t in self.iou_threshold_list]


def get_mask(masks: Sequence[np.ndarray], ignore_box_mask: np.ndarray) -> np.ndarray:
    """evaluation.py ``get_mask`` after loading: (H, W) uint8, 1 = foreground, 255 = ignored, 0 = background.

    Args:
        masks: the instances' (H, W) float32 masks (as ``load_mask_image`` returns them).
        ignore_box_mask: the (H, W) float32 ignore mask.
    """
    mask_all_instances = np.stack([m > 0.5 for m in masks], axis=0).any(axis=0)
    ignore_mask = np.logical_and(ignore_box_mask > 0.5, np.logical_not(mask_all_instances))
    if np.logical_and(ignore_mask, mask_all_instances).any():
        raise RuntimeError("Ignore and foreground masks intersect.")
    return mask_all_instances.astype(np.uint8) + 255 * ignore_mask.astype(np.uint8)


class MaskEvaluator:
    """evaluation.py ``MaskEvaluator``: PxAP from histograms over bins [0, s), ..., [1 - s, 1), [1, 2), [2, 3]."""

    def __init__(self, cam_threshold_list: Sequence[float]) -> None:
        self.cam_threshold_list = cam_threshold_list
        self.num_bins = len(cam_threshold_list) + 2
        self.threshold_list_right_edge = np.append(cam_threshold_list, [1.0, 2.0, 3.0])
        self.gt_true_score_hist = np.zeros(self.num_bins, dtype=np.float64)
        self.gt_false_score_hist = np.zeros(self.num_bins, dtype=np.float64)

    def accumulate(self, scoremap: np.ndarray, gt_mask: np.ndarray) -> None:
        """Add one (H, W) float64 scoremap and its :func:`get_mask` mask."""
        check_scoremap_validity(scoremap)
        gt_true_hist, _ = np.histogram(scoremap[gt_mask == 1], bins=self.threshold_list_right_edge)
        self.gt_true_score_hist += gt_true_hist.astype(np.float64)
        gt_false_hist, _ = np.histogram(scoremap[gt_mask == 0], bins=self.threshold_list_right_edge)
        self.gt_false_score_hist += gt_false_hist.astype(np.float64)

    def compute(self) -> float:
        """PxAP in % (area under the pixel precision-recall curve)."""
        num_gt_true = self.gt_true_score_hist.sum()
        tp = self.gt_true_score_hist[::-1].cumsum()
        fn = num_gt_true - tp
        fp = self.gt_false_score_hist[::-1].cumsum()
        if ((tp + fn) <= 0).all():
            raise RuntimeError("No positive ground truth in the eval set.")
        if ((tp + fp) <= 0).all():
            raise RuntimeError("No positive prediction in the eval set.")
        non_zero_indices = (tp + fp) != 0
        with np.errstate(invalid="ignore", divide="ignore"):  # the reference divides 0 / 0 here too
            precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        auc = (precision[1:] * np.diff(recall))[non_zero_indices[1:]].sum()
        return float(auc * 100)

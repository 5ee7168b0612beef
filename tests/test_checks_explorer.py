"""The self-checks of notebook 06's explorer exercises (camlib.checks.explorer) against camlib computed directly.

``tests/test_checks.py`` covers every check generically (reference, each named mistake, stubs, in-place changes);
here: the references themselves agree with the plain per-tau rule and with the model run on a blanked copy, and a
learner's typical code gets the message that names its mistake.
"""

from __future__ import annotations

import torch

from camlib.boxes import iou, largest_component_box
from camlib.checks import check_erase_part, check_iou_curve
from camlib.checks.explorer import ERASE_PART, IOU_CURVE


def test_the_curve_reference_equals_the_paper_rule_at_each_tau() -> None:
    for cam, gt, taus in IOU_CURVE.cases:
        curve, best = IOU_CURVE.reference(cam, gt, taus)
        loop = torch.stack([iou(largest_component_box(cam, float(t)), gt) for t in taus])  # (T,) one by one
        assert torch.allclose(curve, loop.float())
        assert best == float(taus[int(loop.argmax())]) and curve.max() > 0


def test_the_curve_cases_have_ties_and_a_peak_kept_at_tau_one() -> None:
    cam, gt, taus = IOU_CURVE.cases[1]
    curve, best = IOU_CURVE.reference(cam, gt, taus)
    assert int((curve == curve.max()).sum()) >= 2, "a tie, so that 'the first best tau' is tested"
    assert float(taus[-1]) == 1.0 and curve[-1] > 0, "at tau = 1 the peak is kept (>=) and overlaps the GT"


def test_the_erase_reference_is_the_model_on_a_blanked_copy() -> None:
    for model, image, box, fill in ERASE_PART.cases:
        before = image.clone()
        logits, pred = ERASE_PART.reference(model, image, box, fill)
        x1, y1, x2, y2 = (int(v) for v in box)
        erased = image.clone()
        erased[:, y1:y2, x1:x2] = fill.view(3, 1, 1)
        with torch.no_grad():
            direct = model(erased[None])[0]
        assert torch.equal(logits, direct) and pred == int(direct.argmax())
        assert torch.equal(image, before) and not model.training


def test_erasing_changes_the_logits_unless_the_box_is_empty() -> None:
    for model, image, box, fill in ERASE_PART.cases:
        with torch.no_grad():
            original = model(image[None])[0]
        erased = ERASE_PART.reference(model, image, box, fill)[0]
        empty = bool(box[2] <= box[0] or box[3] <= box[1])
        assert torch.equal(erased, original) == empty


def test_learner_code_with_inclusive_edges_is_named() -> None:
    def my_erase(model, image, box, fill):  # type: ignore[no-untyped-def]
        x1, y1, x2, y2 = (int(v) for v in box)
        image = image.clone()
        image[:, y1 : y2 + 1, x1 : x2 + 1] = fill[:, None, None]
        with torch.no_grad():
            z = model(image[None])[0]
        return z, int(z.argmax())

    result = check_erase_part(my_erase)
    assert result.status == "wrong" and "edges are exclusive" in result.message


def test_learner_code_that_returns_the_best_iou_is_named() -> None:
    def my_curve(cam, gt, taus):  # type: ignore[no-untyped-def]
        ious = torch.stack([iou(largest_component_box(cam, float(t)), gt) for t in taus])
        return ious, float(ious.max())

    result = check_iou_curve(my_curve)
    assert result.status == "wrong" and "not the best IoU itself" in result.message


def test_the_stand_in_show_answers_like_the_app() -> None:
    """The check's stand-in for ``app.show`` gives the app's boxes when it holds the app's raw maps."""
    from camlib.checks.driving import FIRST_DISAGREEMENT, ExplorerShow
    from camlib.data.shapes import Shapes
    from camlib.explorer import CAMExplorer
    from camlib.models import GAPNet, NetConfig

    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
    app = CAMExplorer({"GAP": net}, Shapes("val", size=8, image_size=32), tau=0.2)
    maps = {}
    for i in app.indices:
        s = app.show(index=i, norm="raw")
        maps[i] = app.display_map("GAP", i, s.cls, s.upsample, False)  # (H, W) raw, upsampled as shown
    stand_in = ExplorerShow(maps)
    for i in app.indices:
        for norm in ("raw", "max", "minmax"):
            assert stand_in(index=i, norm=norm).panels[0].box == app.show(index=i, norm=norm).panels[0].box
    mine = FIRST_DISAGREEMENT.reference(stand_in, list(app.indices))
    assert mine != -1, "a random network has maps with negative values: min-max moves some box"

    def drive(show, indices):  # type: ignore[no-untyped-def]
        return next(
            (
                i
                for i in indices
                if show(index=i, norm="max").pred_box != show(index=i, norm="minmax").pred_box
            ),
            -1,
        )

    assert drive(app.show, list(app.indices)) == mine  # pred_box: the first panel's box

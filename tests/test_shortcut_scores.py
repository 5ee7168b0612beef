"""The planted shortcut, measured (camlib.localization.shortcut) and trained (``train --dataset shortcut``): the
four mark variants of the same images, the scores against a per-image computation, where maps peak, and the CLI's
mark options with their errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch

from camlib.__main__ import main
from camlib.cam import class_activation_maps, upsample
from camlib.checkpoint import load_checkpoint
from camlib.data.shapes import Shapes, ShortcutShapes
from camlib.localization.shortcut import VARIANTS, mark_variants, peak_histogram, shortcut_scores
from camlib.models import GAPNet, NetConfig

TINY = NetConfig(widths=(8, 16), downsample=2)
SMALL = ["--train-size", "64", "--val-size", "16", "--test-size", "16", "--image-size", "32", "--epochs", "1"]
SMALL += ["--widths", "8,16", "--downsample", "2", "--batch-size", "16", "--no-progress"]


def test_the_variants_are_the_same_images_with_four_marks() -> None:
    v = mark_variants(size=12, image_size=32, seed=2)
    assert list(v) == list(VARIANTS)
    batches = {k: ds.batch_with_marks(range(12)) for k, ds in v.items()}
    clean = Shapes("test", size=12, image_size=32, seed=2).batch(range(12))
    assert torch.equal(batches["none"][0].images, clean.images)
    agree, contradict = batches["agree"][1], batches["contradict"][1]
    assert bool(agree.agrees.all()) and not bool(contradict.agrees.any())
    assert torch.equal(agree.boxes, contradict.boxes)  # the same corner: only the colour differs
    for name in ("agree", "random", "contradict"):
        images, marks = batches[name][0].images, batches[name][1]
        outside = torch.ones(12, 32, 32, dtype=torch.bool)
        for i, (x1, y1, x2, y2) in enumerate(marks.boxes.long().tolist()):
            outside[i, y1:y2, x1:x2] = False
        assert torch.equal(
            images.permute(1, 0, 2, 3)[:, outside], clean.images.permute(1, 0, 2, 3)[:, outside]
        )


def _by_hand(model: torch.nn.Module, ds: ShortcutShapes) -> dict[str, float | None]:
    """The scores one image at a time, with plain indexing (independent of shortcut_scores' batching)."""
    rows = []
    for i in range(len(ds)):
        batch, marks = ds.batch_with_marks([i])
        out = class_activation_maps(model, batch.images)
        pred = int(out.classes[0, 0])
        m = upsample(out.maps, 32)[0, 0].clamp_min(0)
        x1, y1, x2, y2 = marks.boxes[0].nan_to_num(0).long().tolist()  # no mark: an empty box
        bx1, by1, bx2, by2 = batch.boxes[0].long().tolist()
        total = float(m.sum())
        flat = (
            int(m.flatten().argmax()) if total > 0 else int(upsample(out.maps, 32)[0, 0].flatten().argmax())
        )
        rows.append({
            "correct": pred == int(batch.labels[0]),
            "lying": int(marks.colour_class[0]) != int(batch.labels[0]),
            "follows": pred == int(marks.colour_class[0]),
            "mark": float(m[y1:y2, x1:x2].sum()) / total if total > 0 else 0.0,
            "object": float(m[by1:by2, bx1:bx2].sum()) / total if total > 0 else 0.0,
            "peak": y1 <= flat // 32 < y2 and x1 <= flat % 32 < x2,
        })  # fmt: skip
    lying = [r for r in rows if r["lying"]]

    def pct(values: list[float]) -> float:
        return round(100.0 * sum(values) / len(values), 2)

    return {
        "accuracy": pct([r["correct"] for r in rows]),
        "follows_mark": pct([r["follows"] for r in lying]) if lying else None,
        "mass_on_mark": pct([r["mark"] for r in rows]),
        "mass_on_object": pct([r["object"] for r in rows]),
        "peak_on_mark": pct([r["peak"] for r in rows]),
    }


def test_scores_equal_a_per_image_computation_and_keep_the_mode() -> None:
    torch.manual_seed(0)
    model = GAPNet(6, TINY).train()
    for name, ds in mark_variants(size=10, image_size=32).items():
        got = shortcut_scores(model, ds, batch_size=4).to_dict()
        assert model.training  # given back in the mode it came in
        want = _by_hand(model, ds)
        assert got["images"] == 10 and got["accuracy"] == want["accuracy"]
        assert got["mass_on_object"] == pytest.approx(want["mass_on_object"], abs=0.02)
        if name == "none":
            assert got["follows_mark"] is got["mass_on_mark"] is got["peak_on_mark"] is None
            continue
        assert got["mass_on_mark"] == pytest.approx(want["mass_on_mark"], abs=0.02)
        assert got["peak_on_mark"] == want["peak_on_mark"]
        assert got["follows_mark"] == want["follows_mark"]
    assert (
        shortcut_scores(model, mark_variants(size=6, image_size=32)["agree"]).follows_mark is None
    )  # none lie


def test_scores_need_the_marks() -> None:
    with pytest.raises(ValueError, match="needs a ShortcutShapes dataset.*mark_variants"):
        shortcut_scores(GAPNet(6, TINY), Shapes("test", size=4, image_size=32))  # type: ignore[arg-type]


def test_peak_histogram_counts_first_maxima_per_cell() -> None:
    maps = torch.zeros(4, 6, 9)
    maps[0, 0, 8] = maps[1, 5, 0] = maps[2, 2, 4] = 1.0  # top-right, bottom-left, centre cells of a 3x3 grid
    maps[3] = 1.0  # constant: the first pixel (top-left)
    want = torch.zeros(3, 3)
    want[0, 2] = want[2, 0] = want[1, 1] = want[0, 0] = 0.25
    assert torch.equal(peak_histogram(maps, 3), want)
    with pytest.raises(ValueError, match="multiples of grid=4"):
        peak_histogram(maps, 4)
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        peak_histogram(maps[0], 3)


def test_train_cli_plants_or_removes_the_shortcut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fixed.pt"
    argv = ["train", "--dataset", "shortcut", "--train-mark", "random", "--out", str(out), "--json", *SMALL]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert "--dataset shortcut" in result["command"] and "--train-mark random" in result["command"]
    _, meta = load_checkpoint(out)
    splits = meta["dataset"]["splits"]
    assert [splits[s]["mark"] for s in ("train", "val", "test")] == ["random", "random", "random"]
    out2 = tmp_path / "planted.pt"
    assert main(["train", "--dataset", "shortcut", "--agreement", "1.0", "--out", str(out2), *SMALL]) == 0
    splits = load_checkpoint(out2)[1]["dataset"]["splits"]
    assert (splits["train"]["mark"], splits["train"]["agreement"], splits["test"]["mark"]) == (
        "agree",
        1.0,
        "random",
    )


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--train-mark", "random"], "set the planted mark of --dataset shortcut, not of 'shapes'"),
        (["--dataset", "shortcut", "--agreement", "1.5"], "a share in \\[0, 1\\]"),
        (["--dataset", "shortcut", "--train-mark", "none", "--agreement", "0.5"], "under --train-mark agree"),
    ],
)
def test_train_cli_refuses_mark_options_that_do_not_fit(
    flags: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.pt"
    assert main(["train", *flags, "--out", str(out), *SMALL]) == 2
    assert not any(tmp_path.iterdir())  # refused before any work: nothing written
    assert re.search(words, capsys.readouterr().err)


def test_the_report_script_writes_its_three_files_and_keeps_existing_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import shortcut  # a script of the repository

    argv = ["--images", "6", "--out", str(tmp_path)]
    assert shortcut.main(argv) == 0
    doc = json.loads((tmp_path / "shortcut_fast.json").read_text())
    assert doc["images"] == 6 and set(doc["scores"]) == {"gap_shortcut", "gap_shortcut_fixed", "gap"}
    assert all(list(per) == list(VARIANTS) for per in doc["scores"].values())
    assert doc["scores"]["gap"]["none"]["mass_on_mark"] is None
    md = (tmp_path / "shortcut_fast.md").read_text()
    assert md.count("\n| `gap") == 12 and "0.88% of the image" in md
    assert (tmp_path / "shortcut_maps.png").read_bytes()[:4] == b"\x89PNG"
    before = (tmp_path / "shortcut_fast.md").read_bytes()
    with pytest.raises(SystemExit):
        shortcut.main(argv)  # no --force: the existing report stays
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "shortcut_fast.md").read_bytes() == before

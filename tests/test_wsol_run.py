"""Training the WSOL methods (camlib.train.wsol_run): the epoch and threshold are chosen on validation only (a
test split with poisoned boxes gives the same choice), the test split is read after the choice, the report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from camlib import zoo
from camlib.cam import class_activation_maps, upsample
from camlib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from camlib.data.sample import Batch, Indices
from camlib.data.shapes import Shapes
from camlib.localization import localize
from camlib.models import GAPNet, ModelSpec, NetConfig
from camlib.profile import SettingError
from camlib.reproduce.wsol import reproduce_wsol
from camlib.train.wsol import ADL
from camlib.train.wsol_report import measure_checkpoints, measure_zoo, twin_summary
from camlib.train.wsol_run import WSOL_METHODS, main, prepare, run_wsol, ship, train_wsol

TINY = NetConfig(widths=(8, 16), downsample=2)
SIZES = {"train_size": 48, "val_size": 24, "test_size": 24, "image_size": 32}
OPTIONS = {"epochs": 2, "batch_size": 16, "config": TINY}


class Spy:
    """A split that logs every read in ``log`` and can return poisoned boxes and masks."""

    generates_batches = True

    def __init__(self, ds: Shapes, log: list[str], poison: bool = False) -> None:
        self.ds, self.log, self.poison = ds, log, poison
        self.split, self.class_names, self.image_size = ds.split, ds.class_names, ds.image_size

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        return self.batch([i]).sample(0)

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> Batch:
        self.log.append(self.split)
        b = self.ds.batch(indices, device)
        if self.poison:  # boxes in the top-left corner, masks inverted: every test metric moves
            assert b.boxes is not None and b.masks is not None
            b = Batch(b.images, b.labels, torch.tensor([0.0, 0, 4, 4]).expand_as(b.boxes).clone(), ~b.masks)
        return b


def data(log: list[str], poison: bool = False) -> dict[str, object]:
    n = {s: SIZES[f"{s}_size"] for s in ("train", "val", "test")}
    splits = {s: Shapes(s, size=n[s], image_size=SIZES["image_size"]) for s in n}
    return {
        "train": splits["train"],
        "val": Spy(splits["val"], log),
        "test": Spy(splits["test"], log, poison),
    }


def test_selection_never_reads_the_test_split() -> None:
    log_clean: list[str] = []
    log_poison: list[str] = []
    clean = train_wsol("has", data(log_clean), seed=0, **OPTIONS)  # type: ignore[arg-type]
    poisoned = train_wsol("has", data(log_poison, poison=True), seed=0, **OPTIONS)  # type: ignore[arg-type]
    choice = ("epoch", "tau", "val_curve", "val_accuracy")
    assert [getattr(clean, k) for k in choice] == [getattr(poisoned, k) for k in choice]
    assert len(clean.val_curve) == 2 and clean.epoch in (1, 2)
    assert (
        clean.test["max_box_acc_v2"] != poisoned.test["max_box_acc_v2"]
    )  # the poison reached the test metrics
    assert clean.test["pxap"] != poisoned.test["pxap"]
    assert clean.test["accuracy"] == poisoned.test["accuracy"]  # same model, same images
    first_test = log_clean.index("test")
    assert (
        "val" in log_clean[:first_test] and "val" not in log_clean[first_test:]
    )  # test read after the choice


def test_the_kept_epoch_is_the_best_on_validation() -> None:
    r = train_wsol("cam", data([]), seed=1, epochs=3, batch_size=16, config=TINY)  # type: ignore[arg-type]
    assert r.val_curve[r.epoch - 1] == max(r.val_curve)
    assert r.val_curve.index(max(r.val_curve)) == r.epoch - 1  # the first best on ties
    assert 0.0 <= r.tau <= 1.0 and set(r.test) >= {
        "accuracy",
        "max_box_acc_v2",
        "pxap",
        "box_acc_val_tau_delta_0.5",
    }


def test_a_test_split_passed_as_validation_is_refused_before_training() -> None:
    d = data([])
    d["val"] = d["test"]
    with pytest.raises(ValueError, match="VALIDATION"):
        train_wsol("cam", d, **OPTIONS)  # type: ignore[arg-type]


def test_prepare_builds_each_method() -> None:
    train = Shapes("train", size=8, image_size=32)
    net = GAPNet(6, TINY)
    for method in WSOL_METHODS:
        model, transform = prepare(method, net, train, 6)
        assert (transform is None) == (method in ("cam", "adl"))
        assert any(isinstance(m, ADL) for m in model.modules()) == (method == "adl")
        assert list(model.state_dict()) == list(net.state_dict())  # ADL's weights load into a plain GAPNet
    with pytest.raises(ValueError, match="unknown WSOL method"):
        prepare("mixup", net, train, 6)


def test_run_wsol_writes_the_table_for_every_method(tmp_path: Path) -> None:
    results, table = run_wsol(WSOL_METHODS, [0], profile="fast", out=tmp_path, sizes=SIZES, epochs=1,
                              batch_size=16, config=TINY, checkpoints=tmp_path / "ck")  # fmt: skip
    assert [r.method for r in results] == list(WSOL_METHODS) and list(table) == list(WSOL_METHODS)
    payload = json.loads((tmp_path / "wsol_fast.json").read_text())
    assert payload["table"]["adl"]["max_box_acc_v2"]["mean"] == results[3].test["max_box_acc_v2"]
    assert payload["splits"]["test"]["split"] == "test"
    md = (tmp_path / "wsol_fast.md").read_text()
    assert md.count("\n| ") == 1 + len(WSOL_METHODS) and "chosen on the boxed validation split" in md
    model, meta = load_checkpoint(tmp_path / "ck" / "wsol_adl_s0.pt")  # ADL's model loads as a plain GAPNet
    assert type(model) is GAPNet and meta["wsol"] == {
        "method": "adl", "epoch": 1, "tau": results[3].tau, "val_curve": results[3].val_curve,
        "val_accuracy": results[3].val_accuracy,
    }  # fmt: skip
    assert meta["metrics"] == results[3].test and meta["dataset"]["splits"]["val"]["split"] == "val"
    again = measure_checkpoints([tmp_path / "ck" / f"wsol_{m}_s0.pt" for m in WSOL_METHODS])  # no training
    assert [(r.method, r.epoch, r.tau, r.val_curve, r.test) for r in again] == [
        (r.method, r.epoch, r.tau, r.val_curve, r.test) for r in results
    ]
    assert main(["--from-checkpoints", str(tmp_path / "ck")]) == 0
    with pytest.raises(ValueError, match="unknown WSOL method"):
        run_wsol(["mixup"], [0])


def test_a_checkpoint_without_its_wsol_record_is_refused(tmp_path: Path) -> None:
    net = GAPNet(6, TINY)
    save_checkpoint(tmp_path / "plain.pt", net, ModelSpec("gap", 6, TINY), class_names=list("abcdef"))
    with pytest.raises(CheckpointError, match="no WSOL record"):
        measure_checkpoints([tmp_path / "plain.pt"])
    with pytest.raises(SettingError, match="no wsol_"):
        main(["--from-checkpoints", str(tmp_path)])


def test_the_command_line_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = "--profile fast --methods cam adl --seeds 0 --epochs 1 --train-size 16 --val-size 8 --test-size 8 --out"
    assert main([*argv.split(), str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| cam | 1 |" in printed and "| adl | 1 |" in printed
    assert (tmp_path / "wsol_fast.md").read_text().splitlines()[:6] == printed.splitlines()[:6]
    with pytest.raises(SystemExit) as exc:
        main(["--methods", "mixup"])
    assert exc.value.code == 2


def test_shipped_checkpoints_are_measured_again_from_their_zoo(tmp_path: Path) -> None:
    results, _ = run_wsol(["cam", "has"], [0], profile="fast", sizes=SIZES, epochs=1, batch_size=16,
                          config=TINY, checkpoints=tmp_path / "ck")  # fmt: skip
    assert {"twin_accuracy", "twin_max_box_acc_v2", "part_mass"} <= set(results[0].test)
    names = ship(sorted((tmp_path / "ck").glob("wsol_*.pt")), tmp_path / "zoo")
    assert names == ["wsol_cam_s0", "wsol_has_s0"]
    e = zoo.entry("wsol_has_s0", root=tmp_path / "zoo")
    assert e.command.startswith("python -m camlib.train.wsol_run --methods has --seeds 0 --profile fast")
    again = measure_zoo(tmp_path / "zoo")  # sha256-checked loads, nothing trained or chosen again
    assert [(r.method, r.epoch, r.tau, r.test) for r in again] == [
        (r.method, r.epoch, r.tau, r.test) for r in results
    ]
    md = reproduce_wsol(tmp_path / "out", root=tmp_path / "zoo")
    assert "| cam | 1 |" in md and "| has | 1 |" in md and "the 2 shipped checkpoints in" in md
    payload = json.loads((tmp_path / "out" / "wsol_fast.json").read_text())
    assert payload["table"]["has"]["part_mass"]["mean"] == results[1].test["part_mass"]
    assert payload["source"].startswith("the 2 shipped checkpoints")
    data = bytearray(e.path.read_bytes())  # one flipped byte: the sha256 check refuses it
    data[len(data) // 2] ^= 0x01
    e.path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        measure_zoo(tmp_path / "zoo")
    with pytest.raises(SettingError, match="no WSOL checkpoints in .*--ship"):
        measure_zoo(tmp_path / "empty")
    with pytest.raises(SystemExit) as exc:  # --ship needs checkpoints to register
        main(["--ship", "--methods", "cam"])
    assert exc.value.code == 2


def test_twin_summary_equals_a_per_image_computation() -> None:
    torch.manual_seed(0)
    model = GAPNet(6, TINY).eval()
    test = Shapes("test", size=30, image_size=32)
    got = twin_summary(model, test, batch_size=7)
    names = test.class_names
    twins, parted = ("firefly", "beetle", "shark", "fish"), ("firefly", "shark")
    correct, shares, kept = [], [], []
    for i in range(len(test)):
        s = test[i]
        out = class_activation_maps(model, s.image[None], classes=[s.label])
        if names[s.label] in twins:
            correct.append(int(out.logits.argmax()) == s.label)
        if names[s.label] in parted:
            assert s.part_box is not None
            m = upsample(out.maps, 32)[0, 0].clamp_min(0)
            x1, y1, x2, y2 = s.part_box.long().tolist()
            shares.append(float(m[y1:y2, x1:x2].sum() / m.sum()) if m.sum() > 0 else 0.0)
            kept.append(s)
    assert got["twin_accuracy"] == pytest.approx(100 * sum(correct) / len(correct), abs=0.01)
    assert got["part_mass"] == pytest.approx(100 * sum(shares) / len(shares), abs=0.02)
    assert got["twin_max_box_acc_v2"] == pytest.approx(
        localize(model, kept, "cam").box_acc.max_box_acc_v2, abs=0.01
    )

"""Training loop, evaluation, device choice, the train/evaluate CLI and torchrun (camlib/train.py & co.)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from camlib.__main__ import main
from camlib.checkpoint import load_checkpoint
from camlib.data.sample import Batch, CollatedDataset, Sample
from camlib.data.shapes import Shapes
from camlib.models import GAPNet, NetConfig
from camlib.train import EpochStats, History, evaluate, fit, select_device, train_mode
from camlib.train import distributed as D
from camlib.train.batches import iter_batches
from camlib.train.cli import checkpoint_metrics

REPO = Path(__file__).resolve().parent.parent
TINY = NetConfig(widths=(8, 16), downsample=2)


class ToyShapes:
    """A stand-in that follows the Shapes protocol: a coloured square on noise; 4 classes (colour / size).

    Deterministic from ``(seed, split, index)``; ``batch(indices, device)`` is the fast path.
    """

    class_names = ("red", "green", "blue", "big-red")

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        image_size: int | None = None,
        seed: int = 0,
        config: Any = None,
    ) -> None:
        self.split, self.size, self.image_size, self.seed = split, size or 64, image_size or 16, seed
        self.num_classes = len(self.class_names)
        self._base = {"train": 0, "val": 10**6, "test": 2 * 10**6}[split] + seed * 10**7

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> Sample:
        return self.batch(torch.tensor([i])).sample(0)

    def batch(self, indices: Tensor, device: torch.device | None = None) -> Batch:
        s = self.image_size
        images, labels, boxes = [], [], []
        for i in torch.as_tensor(indices).tolist():
            g = torch.Generator().manual_seed(self._base + int(i))
            y = int(torch.randint(0, 4, (1,), generator=g))
            img = torch.rand(3, s, s, generator=g) * 0.3
            w = s // 2 if y == 3 else s // 4
            x0, y0 = (int(v) for v in torch.randint(0, s - w + 1, (2,), generator=g))
            img[y % 3, y0 : y0 + w, x0 : x0 + w] += 0.7
            images.append(img)
            labels.append(y)
            boxes.append(torch.tensor([x0, y0, x0 + w, y0 + w], dtype=torch.float32))
        b = Batch(torch.stack(images), torch.tensor(labels), torch.stack(boxes))
        return b if device is None else b.to(device)

    def spec(self) -> dict[str, Any]:
        return {"split": self.split, "size": self.size, "image_size": self.image_size, "seed": self.seed}

    @classmethod
    def from_spec(cls, d: dict[str, Any]) -> ToyShapes:
        return cls(**d)


class NoBatch(CollatedDataset):
    """The same samples read one by one (a photo dataset's path): forces the DataLoader path."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds
        self.class_names = ds.class_names

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> Sample:
        return self.ds[i]


def tiny_model(seed: int = 0) -> GAPNet:
    torch.manual_seed(seed)
    return GAPNet(4, TINY)


def one_epoch(seed: int, **kw: Any) -> GAPNet:
    model = tiny_model(seed)
    fit(
        model,
        kw.pop("ds", ToyShapes(size=96)),
        epochs=1,
        batch_size=16,
        device="cpu",
        seed=seed,
        progress=False,
        **kw,
    )
    return model


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# --- device and seeding ------------------------------------------------------------------------------------


def test_select_device_cpu_and_unavailable() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(None).type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="use device='cpu'"):
            select_device("cuda")


def test_same_seed_same_weights_after_one_cpu_epoch() -> None:
    a, b = one_epoch(0), one_epoch(0)
    assert_same_weights(a, b)
    c = one_epoch(1)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)


def test_linear_probe_keeps_frozen_features_and_their_batchnorm_statistics() -> None:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2))
    net.features.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fit(
        net,
        Shapes("train", size=64, image_size=32, seed=0),
        epochs=1,
        batch_size=16,
        device="cpu",
        progress=False,
    )
    after = net.state_dict()
    features = [k for k in before if k.startswith("features.")]
    assert any("running_mean" in k for k in features)
    for k in features:  # conv weights, BN affine parameters AND running statistics: untouched
        assert torch.equal(before[k], after[k]), k
    assert not torch.equal(
        before["classifier.weight"], after["classifier.weight"]
    )  # the probe itself learned


def test_train_mode_leaves_only_frozen_affine_batchnorm_in_eval() -> None:
    net = nn.Sequential(
        nn.BatchNorm2d(2), nn.BatchNorm2d(2, affine=False), nn.BatchNorm2d(2), nn.Linear(2, 2)
    )
    net[0].requires_grad_(False)
    net.eval()
    assert [m.training for m in train_mode(net)] == [False, True, True, True]


def test_data_paths_agree() -> None:
    """The on-device path, the pre-generated split and the DataLoader path feed identical batches."""
    ds = ToyShapes(size=96)
    fast = one_epoch(0, ds=ds, pregenerate=False)
    kept = one_epoch(0, ds=ds)
    loader = one_epoch(0, ds=NoBatch(ds))
    assert_same_weights(fast, kept)
    assert_same_weights(fast, loader)


def test_iter_batches_order_and_sizes() -> None:
    ds = ToyShapes(size=10)
    idx = torch.tensor([3, 1, 4, 1, 5, 9, 2])
    got = list(iter_batches(ds, idx, 3, torch.device("cpu")))
    assert [len(y) for _, y in got] == [3, 3, 1]
    labels = torch.cat([y for _, y in got])
    assert labels.tolist() == [ds[i].label for i in idx.tolist()]
    loader = list(iter_batches(NoBatch(ds), idx, 3, torch.device("cpu")))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(got, loader, strict=True))


# --- fit ---------------------------------------------------------------------------------------------------


def test_fit_history_and_learning() -> None:
    model = tiny_model()
    seen: list[int] = []
    hist = fit(
        model,
        ToyShapes(size=384),
        ToyShapes("val", size=128),
        epochs=4,
        batch_size=32,
        lr=1e-2,
        device="cpu",
        progress=False,
        on_epoch=lambda s, m: seen.append(s.epoch),
    )
    assert isinstance(hist, History) and isinstance(hist, list) and len(hist) == 4
    assert seen == [1, 2, 3, 4]
    assert [f for f in EpochStats.__dataclass_fields__][:6] == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_acc",
        "images_per_s",
        "seconds",
    ]
    for s in hist:
        assert 0 <= s.train_acc <= 100 and 0 <= s.val_acc <= 100
        assert s.images_per_s > 0 and s.seconds > 0 and math.isfinite(s.train_loss)
    assert hist[-1].train_loss < hist[0].train_loss
    assert hist[-1].val_acc > 60  # chance is 25%
    assert not model.training
    assert hist.to_dicts()[0]["epoch"] == 1 and hist.train_seconds == pytest.approx(
        sum(s.seconds for s in hist)
    )
    # fit leaves the weights in the default memory format
    assert model.features[0].weight.is_contiguous()


def test_fit_without_val_and_bad_arguments() -> None:
    hist = fit(tiny_model(), ToyShapes(size=32), epochs=1, batch_size=64, device="cpu", progress=False)
    assert math.isnan(hist[0].val_acc)
    with pytest.raises(ValueError, match="epochs and batch_size"):
        fit(tiny_model(), ToyShapes(size=32), epochs=0, batch_size=8, device="cpu")
    with pytest.raises(ValueError, match="unknown schedule"):
        fit(tiny_model(), ToyShapes(size=32), epochs=1, batch_size=8, device="cpu", schedule="steps")


def test_fit_progress_bar_prints_text(capsys: pytest.CaptureFixture[str]) -> None:
    fit(tiny_model(), ToyShapes(size=32), epochs=1, batch_size=16, device="cpu", progress=True)
    assert "epoch 1/1" in capsys.readouterr().err


# --- evaluate ----------------------------------------------------------------------------------------------


class Oracle(nn.Module):
    """Predicts the class written in pixel (0, 0, 0): logits_c = -(c - p)^2 - 0.01 c."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))
        self.num_classes = num_classes

    def forward(self, x: Tensor) -> Tensor:
        p = x[:, 0, 0, 0]  # (B,)
        c = torch.arange(self.num_classes, dtype=x.dtype)  # (C,)
        return -((c[None] - p[:, None]) ** 2) - 0.01 * c + 0 * self.dummy  # (B, C)


def oracle_data() -> tuple[list[Sample], list[int], list[int]]:
    preds = [0, 1, 2, 3, 4, 5, 0, 1, 2, 5]
    labels = [0, 1, 2, 3, 4, 5, 0, 4, 5, 0]  # 7 of 10 right
    samples = []
    for p, y in zip(preds, labels, strict=True):
        img = torch.zeros(3, 4, 4)
        img[0, 0, 0] = p
        samples.append(Sample(img, y))
    return samples, preds, labels


def test_evaluate_known_accuracy_top5_and_loss() -> None:
    samples, preds, labels = oracle_data()
    model = Oracle(6)
    out = evaluate(model, samples, batch_size=3, device="cpu")
    assert out["n"] == 10 and out["accuracy"] == pytest.approx(70.0)
    # top-5 of 6 classes misses only the class farthest from the prediction: p=1 -> 5 is last (y=4: hit);
    # p=2, y=5: the order is 2, 1, 3, 0, 4, 5 -> miss; p=5, y=0: 0 is farthest -> miss.
    assert out["top5_accuracy"] == pytest.approx(80.0)
    with torch.no_grad():
        logits = torch.stack([model(s.image[None])[0] for s in samples])
    ref = nn.functional.cross_entropy(logits, torch.tensor(labels))
    assert out["loss"] == pytest.approx(float(ref), rel=1e-6)
    # the classification part of the evaluate command's metrics is the same
    assert checkpoint_metrics(model, samples, batch_size=4, device="cpu")["accuracy"] == pytest.approx(70.0)


def test_evaluate_restores_training_mode() -> None:
    model = tiny_model().train()
    evaluate(model, ToyShapes("test", size=8), batch_size=4, device="cpu")
    assert model.training


# --- distributed helpers (single process) -------------------------------------------------------------------


def test_shard_is_disjoint_and_equal_sized() -> None:
    perm = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    parts = [D.shard(perm, r, 3) for r in range(3)]
    assert {len(p) for p in parts} == {3}
    flat = torch.cat(parts).tolist()
    assert len(set(flat)) == 9 and set(flat) <= set(perm.tolist())
    assert D.info() == D.DistInfo() and D.is_main()
    assert D.all_reduce_sum([1.0, 2.0], torch.device("cpu")) == [1.0, 2.0]


# --- CLI ---------------------------------------------------------------------------------------------------

# the real embedded dataset, tiny: 32 px images, a 2-block model
SMALL = ["--train-size", "128", "--val-size", "32", "--test-size", "64", "--image-size", "32"]
SMALL += ["--widths", "8,16", "--downsample", "2", "--batch-size", "16", "--no-progress"]


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd, flags in [
        ("train", ["--model", "--epochs", "--profile", "--zoo", "--json"]),
        ("evaluate", ["--split", "--json"]),
    ]:
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        assert all(f in text for f in flags), text


def test_cli_train_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.pt"
    assert main(["train", "--epochs", "1", "--seed", "3", "--out", str(out), "--json", *SMALL]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ranks_identical"] and len(result["rank_digests"]) == 1
    cmd = result["command"]
    assert cmd.startswith("python -m camlib train ") and "--seed 3" in cmd and "--widths 8,16" in cmd
    model, meta = load_checkpoint(out, sha256=result["sha256"])
    assert (
        meta["command"] == cmd
        and meta["seed"] == 3
        and meta["class_names"] == Shapes("test", size=1).class_names
    )
    assert D.state_digest(model) == result["rank_digests"][0]
    assert main(["evaluate", str(out), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["metrics"]["accuracy"] == pytest.approx(result["metrics"]["test_accuracy"], abs=0.5)
    assert ev["metrics"]["n"] == 64 and ev["recorded_accuracy"] == result["metrics"]["test_accuracy"]
    assert main(["evaluate", str(out), "--split", "val"]) == 0
    assert "val split (32 images)" in capsys.readouterr().out


def test_cli_evaluate_bad_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", str(bad)]) == 2
    assert "not a camlib checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_two_ranks_end_identical(tmp_path: Path) -> None:
    """torchrun --nproc_per_node=2 on CPU (gloo): both ranks hash their own weights; rank 0 gathers the hashes."""
    out = tmp_path / "ddp.pt"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
    }
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args = ["-m", "camlib", "train", "--epochs", "1", "--out", str(out), "--json", *SMALL]
    proc = subprocess.run(torchrun + args, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    digests = result["rank_digests"]
    assert len(digests) == 2 and digests[0] == digests[1] and result["ranks_identical"]
    assert result["metrics"]["world_size"] == 2
    assert result["command"].startswith("torchrun --nproc_per_node=2 -m camlib train")
    model, _ = load_checkpoint(out)
    assert D.state_digest(model) == digests[0]
    # each rank saw half of the 128 training images per epoch, and the counts were summed over the ranks
    assert result["history"][0]["images_per_s"] > 0

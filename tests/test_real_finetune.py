"""The real-photo path on tiny fixtures in CUB's and Pets' on-disk formats: the backbone as a CAM network, the
boxed validation split, fine-tuning with verified checkpoints, and ``reproduce --dataset cub|pets`` end to end
(random weights, fast profile, one short epoch; no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from real_fixtures import write_cub, write_pets

from camlib.__main__ import main
from camlib.cam import class_activation_maps
from camlib.data import CUB, OxfordPets
from camlib.models import GlobalPoolNet
from camlib.reproduce import real
from camlib.train.finetune import backbone_net, finetune, load_finetuned, split_off_val


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAMLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    return tmp_path


def test_resnet_keeps_its_weights_and_its_cam_adds_up_to_the_logits() -> None:
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None)
    net = backbone_net("resnet18", 5, tv.state_dict())
    assert isinstance(net, GlobalPoolNet) and net.classifier.out_features == 5
    assert torch.equal(net.features[1].weight, tv.conv1.weight)  # features[0] is the ImageNet normalisation
    x = torch.rand(2, 3, 64, 64)
    out = class_activation_maps(net.eval(), x, classes=[[0, 4]])
    sums = out.maps.mean((-2, -1)) + net.classifier.bias[out.classes]  # (B, N): S_c = mean M_c + b_c
    torch.testing.assert_close(sums, out.logits.gather(1, out.classes), rtol=1e-4, atol=1e-4)
    normalised = net.features[0](torch.ones(1, 3, 1, 1)).flatten()
    torch.testing.assert_close(
        normalised, (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    )


def test_vgg16_is_gapified_to_14x14_maps_and_foreign_weights_are_refused() -> None:
    net = backbone_net("vgg16", 3).eval()
    with torch.no_grad():
        assert net.features(torch.rand(1, 3, 224, 224)).shape == (1, 1024, 14, 14)
    with pytest.raises(ValueError, match="not resnet18's"):
        backbone_net("resnet18", 3, {"conv.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="unknown backbone 'vit'"):
        backbone_net("vit", 3)


def test_the_validation_split_is_carved_per_class_and_disjoint(tmp_path: Path) -> None:
    ds = CUB(write_cub(tmp_path / "cub", per_class=4), "train", image_size=32)
    train, val = split_off_val(ds, per_class=2, seed=3)
    assert val.split == "val" and train.split == "train" and train.flip and not val.flip
    assert sorted(train.indices + val.indices) == list(range(len(ds))) and not set(train.indices) & set(
        val.indices
    )
    assert sorted(ds.items[i][1] for i in val.indices) == [0, 0, 1, 1]
    assert split_off_val(ds, 2, seed=3)[1].indices == val.indices  # the same seed, the same split
    assert val[0].box is not None and val[0].mask is not None  # boxed: tau can be chosen on it
    with pytest.raises(ValueError, match="none would be left"):
        split_off_val(ds, per_class=4)
    pets = OxfordPets(write_pets(tmp_path / "pets"), "trainval", image_size=32)
    assert sorted(pets[i].label for i in split_off_val(pets, 1)[1].indices) == [0, 1]


def test_finetune_writes_a_verified_checkpoint(data: Path) -> None:
    ds = CUB(write_cub(data / "cub"), "train", image_size=32)
    train, val = split_off_val(ds, 1)
    out = data / "ft" / "m.pt"
    net = backbone_net("resnet18", 2)
    record = {"arch": "resnet18", "num_classes": 2, "image_size": 32}
    history, _ = finetune(
        net, train, val, out, record=record, epochs=1, batch_size=4, device="cpu", progress=False
    )
    assert len(history) == 1 and out.with_suffix(".sha256").read_text().split()[1] == "m.pt"
    loaded, meta = load_finetuned(out)
    assert meta["history"][0]["epoch"] == 1 and meta["arch"] == "resnet18"
    for a, b in zip(loaded.state_dict().values(), net.state_dict().values(), strict=True):
        assert torch.equal(a, b.cpu())
    with pytest.raises(Exception, match="already exists"):  # checked before any training
        finetune(net, train, val, out, record=record, epochs=1, batch_size=4, progress=False)
    out.write_bytes(out.read_bytes() + b"x")
    with pytest.raises(ValueError, match="fails its sha256"):
        load_finetuned(out)
    out.with_suffix(".sha256").unlink()
    with pytest.raises(ValueError, match="no m.sha256"):
        load_finetuned(out)


def reproduce(dataset: str, root: Path, out: Path, *extra: str) -> int:
    argv = [
        "reproduce",
        "--dataset",
        dataset,
        "--root",
        str(root),
        "--profile",
        "fast",
        "--weights",
        "random",
    ]
    return main([*argv, "--out", str(out), *extra])


def test_reproduce_cub_on_fixtures_trains_then_loads(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_cub(data / "cub")
    assert reproduce("cub", root, data / "rep", "--arch", "resnet18") == 0
    payload = json.loads((data / "rep" / "real_cub_resnet18_fast.json").read_text())
    row = payload["rows"]["resnet18 + CAM"]
    assert {"top1_cls_err", "top1_loc_err", "gt_known_loc", "max_box_acc", "max_box_acc_v2", "pxap"} <= set(
        row
    )
    assert payload["test_images"] == 4 and payload["selection"] == payload["selection"] | {
        "split": "val",
        "val_images": 2,
    }
    assert payload["published"] == {"max_box_acc_v2": None} and len(payload["training"]["history"]) == 1
    ckpt = data / "data" / "finetuned" / "cub_resnet18_random_fast.pt"
    assert payload["checkpoint_sha256"] == ckpt.with_suffix(".sha256").read_text().split()[0]
    md = (data / "rep" / "real_cub_resnet18_fast.md").read_text()
    assert "MaxBoxAccV2" in md and "63.7 VGG16" in md

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checkpoint is there: nothing should train")

    monkeypatch.setattr(real, "finetune", no_training)
    assert reproduce("cub", root, data / "rep2", "--arch", "resnet18") == 0
    again = json.loads((data / "rep2" / "real_cub_resnet18_fast.json").read_text())
    assert again["rows"] == payload["rows"] and again["training"]["loaded"] == ckpt.name


def test_reproduce_pets_on_fixtures_with_the_published_number_beside(data: Path) -> None:
    assert reproduce("pets", write_pets(data / "pets"), data / "rep", "--arch", "resnet18", "--json") == 0
    row = json.loads((data / "rep" / "real_pets_resnet18_fast.json").read_text())["rows"]["resnet18 + CAM"]
    assert 0 <= row["pxap"] <= 100  # trimaps: masks, so PxAP
    assert reproduce("cub", write_cub(data / "cub"), data / "rep", "--arch", "resnet50") == 0
    payload = json.loads((data / "rep" / "real_cub_resnet50_fast.json").read_text())
    assert payload["published"] == {"max_box_acc_v2": 63.0}  # Choe et al., CVPR 2020: CAM, ResNet50, CUB
    assert "| CAM | " in (data / "rep" / "real_cub_resnet50_fast.md").read_text()


def test_missing_weights_or_data_are_one_line_errors_and_nothing_is_written(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_cub(data / "cub")
    argv = [
        "reproduce",
        "--dataset",
        "cub",
        "--root",
        str(root),
        "--arch",
        "resnet18",
        "--out",
        str(data / "rep"),
    ]
    assert main(argv) == 2  # --weights imagenet (the default), not prefetched
    err = capsys.readouterr().err
    assert "no resnet18 weights" in err and "python -m camlib prefetch resnet18" in err
    assert main([*argv[:4], str(data / "nowhere"), *argv[5:]]) == 2
    assert "python -m camlib prefetch cub" in capsys.readouterr().err
    assert not (data / "data" / "finetuned").exists() and not any((data / "rep").glob("*"))


def test_a_checkpoint_of_another_split_is_refused(data: Path) -> None:
    root = write_cub(data / "cub", per_class=3)
    assert reproduce("cub", root, data / "rep", "--arch", "resnet18") == 0
    with pytest.raises(ValueError, match="another validation split"):
        real.run_real("cub", arch="resnet18", root=root, weights="random", seed=1, progress=False)


def test_export_cub_round_trips_boxes_and_masks(tmp_path: Path) -> None:
    from camlib.data.export import export_cub
    from camlib.data.shapes import Shapes

    creatures = Shapes("val", size=6, image_size=32, seed=0)
    samples = [creatures[i] for i in range(6)]
    root = export_cub(samples, creatures.class_names, tmp_path, [True, True, True, True, False, False])
    test = CUB(root, "test", image_size=32)
    assert len(test) == 2 and test.class_names == tuple(creatures.class_names)
    for got, want in zip((test[0], test[1]), samples[4:], strict=True):
        assert got.label == want.label and torch.equal(got.box, want.box) and torch.equal(got.mask, want.mask)
        assert (got.image - want.image).abs().mean() < 0.05  # JPEG
    with pytest.raises(ValueError, match="already exists"):
        export_cub(samples, creatures.class_names, tmp_path, [True] * 6)


def test_options_of_the_other_kind_of_run_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--dataset", "cub", "--methods", "gradcam"]) == 2
    assert "--methods compares map methods on the embedded dataset" in capsys.readouterr().err
    assert main(["reproduce", "--arch", "resnet18", "--epochs", "2"]) == 2  # --dataset shapes is the default
    assert "--arch, --epochs apply to --dataset cub or pets" in capsys.readouterr().err

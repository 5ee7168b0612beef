"""Real-dataset loaders on tiny fixtures written in each dataset's real on-disk format (no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.ops import masks_to_boxes

from camlib.data.cub import CUB
from camlib.data.folder import DatasetNotFoundError, ImageFolder, scale_box
from camlib.data.pets import OxfordPets, box_from_mask
from camlib.data.sample import collate
from camlib.files import data_dir

# --- Oxford-IIIT Pet -------------------------------------------------------------------------------------
# torchvision's layout: <root>/oxford-iiit-pet/images/<id>.jpg, annotations/trimaps/<id>.png,
# annotations/{trainval,test}.txt with "<id> <class 1..37> <species 1 cat, 2 dog> <breed id>".
PET_IDS = {
    "trainval": [("Abyssinian_1", 1, 1), ("american_bulldog_3", 2, 2)],
    "test": [("Abyssinian_2", 1, 1)],
}
W, H = 20, 10  # the fixture photos are 20 wide, 10 high
PET = (4, 2, 12, 6)  # certain pet pixels: columns 4..11, rows 2..5 -> exclusive XYXY
RING = (3, 1, 13, 7)  # with the 1-pixel border band around them


def write_pets(root: Path) -> Path:
    base = root / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    for split, rows in PET_IDS.items():
        lines = []
        for image_id, label, species in rows:
            lines.append(f"{image_id} {label} {species} 1")
            colour = (200, 30, 30) if label == 1 else (30, 30, 200)
            Image.new("RGB", (W, H), colour).save(base / "images" / f"{image_id}.jpg", quality=95)
            trimap = np.full((H, W), 2, dtype=np.uint8)  # background
            trimap[RING[1] : RING[3], RING[0] : RING[2]] = 3  # border band
            trimap[PET[1] : PET[3], PET[0] : PET[2]] = 1  # pet
            Image.fromarray(trimap).save(base / "annotations" / "trimaps" / f"{image_id}.png")
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_pets_labels_splits_and_class_names(tmp_path: Path) -> None:
    root = write_pets(tmp_path)
    train = OxfordPets(root, "trainval", image_size=40)
    test = OxfordPets(root, "test", image_size=40)
    assert (len(train), len(test)) == (2, 1)
    assert train.class_names == ("Abyssinian", "American Bulldog")
    assert [train[i].label for i in range(2)] == [0, 1]
    assert test[0].label == 0
    s = train[0]
    assert s.image.shape == (3, 40, 40) and s.image.dtype == torch.float32
    assert 0 <= s.image.min() and s.image.max() <= 1
    assert s.image[0].mean() > 0.7 and s.image[2].mean() < 0.2  # the red photo stays red
    assert s.part_box is None


@pytest.mark.parametrize(
    ("border", "box"),
    [(True, RING), (False, PET)],
)
def test_pets_box_and_mask_scale_with_the_resize(tmp_path: Path, border: bool, box: tuple[int, ...]) -> None:
    # 20x10 -> 40x40 scales x by 2 and y by 4; nearest upscaling by whole factors duplicates pixels exactly
    s = OxfordPets(write_pets(tmp_path), image_size=40, border_is_object=border)[0]
    expected = torch.tensor([box[0] * 2, box[1] * 4, box[2] * 2, box[3] * 4], dtype=torch.float32)
    assert s.box is not None and s.mask is not None
    assert torch.equal(s.box, expected)
    assert s.mask.dtype == torch.bool and s.mask.shape == (40, 40)
    assert int(s.mask.sum()) == (box[2] - box[0]) * (box[3] - box[1]) * 8
    # the box is the mask's extent (independent reference: torchvision's inclusive boxes + 1)
    assert torch.equal(masks_to_boxes(s.mask[None])[0] + torch.tensor([0, 0, 1, 1]), s.box)


def test_pets_batches_through_a_dataloader(tmp_path: Path) -> None:
    loader = DataLoader(OxfordPets(write_pets(tmp_path), image_size=32), batch_size=2, collate_fn=collate)
    batch = next(iter(loader))
    assert batch.images.shape == (2, 3, 32, 32)
    assert batch.labels.tolist() == [0, 1]
    assert batch.boxes is not None and batch.boxes.shape == (2, 4)
    assert batch.masks is not None and batch.masks.shape == (2, 32, 32)


def test_pets_missing_files_say_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        OxfordPets(tmp_path / "nowhere")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "nowhere" / "oxford-iiit-pet" / "annotations" / "trainval.txt") in message
    assert "python -m camlib prefetch pets" in message and "download=True" in message
    assert "robots.ox.ac.uk" in message


def test_pets_download_goes_through_prefetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import camlib.prefetch

    calls = []

    def fake_fetch_group(name: str, root: Path | None = None) -> list[Path]:
        calls.append((name, root))
        write_pets(tmp_path)
        return []

    monkeypatch.setattr(camlib.prefetch, "fetch_group", fake_fetch_group)
    assert len(OxfordPets(tmp_path, download=True)) == 2
    assert calls == [("pets", tmp_path)]
    OxfordPets(tmp_path, download=True)  # present: no second fetch
    assert len(calls) == 1


def test_pets_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'trainval' or 'test'"):
        OxfordPets(tmp_path, split="train")


def test_box_from_mask_empty() -> None:
    assert box_from_mask(torch.zeros(4, 4, dtype=torch.bool)).tolist() == [0, 0, 0, 0]


# --- CUB-200-2011 ----------------------------------------------------------------------------------------
CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross"]
# id, class (1-based), is_train, (x, y, w, h) in the 50x25 photo
CUB_ROWS = [
    (1, 1, 1, (5.0, 2.5, 20.0, 10.0)),
    (2, 2, 1, (0.0, 0.0, 50.0, 25.0)),
    (3, 2, 0, (10.5, 5.0, 30.0, 12.5)),
]


def write_cub(root: Path, segmentations: bool = True) -> Path:
    base = root / "CUB_200_2011"
    files: dict[str, list[str]] = {name: [] for name in ("images", "labels", "split", "boxes")}
    for i, cls, train, (x, y, w, h) in CUB_ROWS:
        rel = f"{CLASSES[cls - 1]}/{CLASSES[cls - 1][4:]}_{i:04d}_{100 + i}.jpg"
        (base / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (50, 25), (20, 160, 20)).save(base / "images" / rel)
        files["images"].append(f"{i} {rel}")
        files["labels"].append(f"{i} {cls}")
        files["split"].append(f"{i} {train}")
        files["boxes"].append(f"{i} {x} {y} {w} {h}")
        if segmentations:
            seg = np.zeros((25, 50), dtype=np.uint8)
            seg[5:15, 10:30] = 255  # bird for every annotator
            seg[20:25, 0:50] = 100  # below the default threshold of 128
            (root / "segmentations" / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(seg).save((root / "segmentations" / rel).with_suffix(".png"))
    (base / "images.txt").write_text("\n".join(files["images"]) + "\n")
    (base / "image_class_labels.txt").write_text("\n".join(files["labels"]) + "\n")
    (base / "train_test_split.txt").write_text("\n".join(files["split"]) + "\n")
    (base / "bounding_boxes.txt").write_text("\n".join(files["boxes"]) + "\n")
    (base / "classes.txt").write_text("".join(f"{k + 1} {c}\n" for k, c in enumerate(CLASSES)))
    return root


def test_cub_splits_labels_and_scaled_boxes(tmp_path: Path) -> None:
    root = write_cub(tmp_path, segmentations=False)
    train, test = CUB(root, "train", image_size=100), CUB(root, "test", image_size=100)
    assert (len(train), len(test), len(CUB(root, "all"))) == (2, 1, 3)
    assert train.class_names == ("Black footed Albatross", "Laysan Albatross")
    assert [train[0].label, train[1].label, test[0].label] == [0, 1, 1]
    # x y w h -> XYXY, then x * 100/50 and y * 100/25
    assert train[0].box is not None and train[0].box.tolist() == [10.0, 10.0, 50.0, 50.0]
    assert train[1].box is not None and train[1].box.tolist() == [0.0, 0.0, 100.0, 100.0]
    assert test[0].box is not None and test[0].box.tolist() == [21.0, 20.0, 81.0, 70.0]
    assert train[0].image.shape == (3, 100, 100) and train[0].mask is None
    assert CUB(root, "test", image_size=100, masks=None).seg_dir is None


def test_cub_masks_when_segmentations_are_present(tmp_path: Path) -> None:
    root = write_cub(tmp_path)
    s = CUB(root, "train", image_size=50)[0]  # 50x25 -> 50x50: rows doubled
    assert s.mask is not None and s.mask.shape == (50, 50) and s.mask.dtype == torch.bool
    expected = torch.zeros(50, 50, dtype=torch.bool)
    expected[10:30, 10:30] = True
    assert torch.equal(s.mask, expected)
    assert CUB(root, "train", image_size=50, mask_threshold=0.3)[0].mask.sum() > expected.sum()  # type: ignore[union-attr]
    assert CUB(root, "train", masks=False)[0].mask is None


def test_cub_missing_files_say_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="prefetch cub") as info:
        CUB(tmp_path)
    assert str(tmp_path / "CUB_200_2011" / "bounding_boxes.txt") in str(info.value)
    assert "data.caltech.edu" in str(info.value)
    root = write_cub(tmp_path / "partial", segmentations=False)
    (root / "CUB_200_2011" / "bounding_boxes.txt").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        CUB(root)
    assert info.value.missing == [root / "CUB_200_2011" / "bounding_boxes.txt"]
    with pytest.raises(DatasetNotFoundError, match="segmentations"):
        CUB(write_cub(tmp_path / "nomasks", segmentations=False), masks=True)


def test_cub_missing_image_and_malformed_metadata(tmp_path: Path) -> None:
    root = write_cub(tmp_path, segmentations=False)
    data = CUB(root, "test")
    (root / "CUB_200_2011" / "images" / data.items[0][0]).unlink()
    with pytest.raises(DatasetNotFoundError, match="Laysan_Albatross_0003_103.jpg"):
        data[0]
    (root / "CUB_200_2011" / "image_class_labels.txt").write_text("1 1\ntwo 2\n")
    with pytest.raises(ValueError, match=r"image_class_labels.txt:2"):
        CUB(root)


# --- plain image folders ---------------------------------------------------------------------------------
def test_image_folder_with_class_subfolders(tmp_path: Path) -> None:
    for cls, n in (("cats", 2), ("dogs", 1)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.new("RGB", (30, 20), (i * 50, 0, 0)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "cats" / ".hidden.png").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    data = ImageFolder(tmp_path, image_size=16)
    assert data.class_names == ("cats", "dogs")
    assert [data[i].label for i in range(len(data))] == [0, 0, 1]
    s = data[2]
    assert s.image.shape == (3, 16, 16) and s.box is None and s.mask is None and s.part_box is None


def test_image_folder_flat(tmp_path: Path) -> None:
    Image.new("L", (8, 8), 128).save(tmp_path / "a.jpg")
    Image.new("RGBA", (8, 8)).save(tmp_path / "b.png")
    data = ImageFolder(tmp_path, image_size=8)
    assert data.class_names == () and len(data) == 2
    assert data[0].label == -1 and data[0].image.shape == (3, 8, 8)
    assert ImageFolder(tmp_path, flat_label=3)[1].label == 3


def test_image_folder_missing_or_empty(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="<class name>/<image>.jpg"):
        ImageFolder(tmp_path / "nope")
    with pytest.raises(DatasetNotFoundError, match="readable extensions"):
        ImageFolder(tmp_path)


def test_scale_box_clamps_to_the_image() -> None:
    assert scale_box([-4, 0, 120, 50], (100, 50), 10).tolist() == [0.0, 0.0, 10.0, 10.0]


def test_data_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMLIB_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("CAMLIB_DATA")
    assert data_dir() == Path(__file__).resolve().parents[1] / "data"

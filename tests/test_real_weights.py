"""Pretrained weights: pinned, verified before reading, read without unpickling code; fetched from a file://
mirror and carried in an offline bundle. No network: the "weights" are a tiny state dict with its own pins."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest
import torch

from camlib import prefetch
from camlib.prefetch import PrefetchError, fetch, load_weights, pack, unpack, weights_path
from camlib.prefetch import weights as W


def tiny_weights(path: Path) -> bytes:
    torch.save({"conv.weight": torch.arange(12.0).view(1, 3, 2, 2), "fc.bias": torch.ones(2)}, path)
    return path.read_bytes()


@pytest.fixture
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, bytes]:
    """A file:// mirror holding resnet18's file name with tiny contents, and resnet18 pinned to them."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    res = W.WEIGHTS["resnet18"]
    payload = tiny_weights(mirror / res.filename)
    fake = dataclasses.replace(res, sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    monkeypatch.setitem(W.WEIGHTS, "resnet18", fake)
    return mirror, payload


def test_the_pins_agree_with_torchvision_file_names() -> None:
    # torchvision names each file <arch>-<first 8 hex digits of its sha256>.pth
    for arch in prefetch.BACKBONES:
        res = prefetch.REGISTRY[arch]
        prefix = re.fullmatch(rf"{arch}-([0-9a-f]{{8}})\.pth", res.filename)
        assert prefix and res.sha256 and res.sha256.startswith(prefix.group(1)), res
        assert res.size and res.size > 10_000_000 and not res.extract
    assert prefetch.GROUPS["weights"] == ("resnet18", "resnet50", "vgg16")


def test_good_file_from_a_file_mirror_loads(pinned: tuple[Path, bytes], tmp_path: Path) -> None:
    mirror, _ = pinned
    data = tmp_path / "data"
    fetch(W.WEIGHTS["resnet18"], data=data, mirror=mirror.as_uri(), progress=False)
    state = load_weights("resnet18", data=data)
    assert weights_path("resnet18", data) == data / "weights" / "checkpoints" / "resnet18-f37072fd.pth"
    assert torch.equal(state["conv.weight"], torch.arange(12.0).view(1, 3, 2, 2))


def test_missing_weights_name_the_prefetch_command(tmp_path: Path) -> None:
    with pytest.raises(PrefetchError, match="no resnet50 weights") as info:
        load_weights("resnet50", data=tmp_path)
    assert "python -m camlib prefetch resnet50" in info.value.fix
    with pytest.raises(PrefetchError, match="no pretrained weights for 'vit_b_16'"):
        load_weights("vit_b_16", data=tmp_path)


def test_wrong_checksum_is_refused_before_reading(pinned: tuple[Path, bytes], tmp_path: Path) -> None:
    _, payload = pinned
    path = weights_path("resnet18", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(payload[:-1] + bytes([payload[-1] ^ 1]))  # same size, one bit flipped
    with pytest.raises(PrefetchError, match="fails its sha256") as info:
        load_weights("resnet18", data=tmp_path)
    assert "prefetch resnet18 --force" in info.value.fix
    assert path.read_bytes() != payload  # nothing was "repaired" behind the learner's back


def test_truncated_file_is_refused(pinned: tuple[Path, bytes], tmp_path: Path) -> None:
    _, payload = pinned
    path = weights_path("resnet18", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(PrefetchError, match="truncated"):
        load_weights("resnet18", data=tmp_path)


def test_a_truncated_download_from_the_mirror_leaves_nothing(
    pinned: tuple[Path, bytes], tmp_path: Path
) -> None:
    mirror, payload = pinned
    (mirror / W.WEIGHTS["resnet18"].filename).write_bytes(payload[:100])
    with pytest.raises(PrefetchError, match="expected"):
        fetch(W.WEIGHTS["resnet18"], data=tmp_path / "d", mirror=mirror.as_uri(), progress=False)
    assert not any(p.is_file() for p in (tmp_path / "d").rglob("*"))


class Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("code ran",))


def test_a_file_with_code_is_never_unpickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = weights_path("resnet18", tmp_path)
    path.parent.mkdir(parents=True)
    torch.save({"w": Boom()}, path)  # a pickle that would call print() if it were unpickled
    payload = path.read_bytes()
    fake = dataclasses.replace(
        W.WEIGHTS["resnet18"], sha256=hashlib.sha256(payload).hexdigest(), size=len(payload)
    )
    monkeypatch.setitem(W.WEIGHTS, "resnet18", fake)  # even with the right digest, weights_only refuses it
    with pytest.raises(PrefetchError, match="not a readable state dict"):
        load_weights("resnet18", data=tmp_path)
    assert "code ran" not in capsys.readouterr().out


def test_offline_bundle_carries_the_weights(pinned: tuple[Path, bytes], tmp_path: Path) -> None:
    mirror, _ = pinned
    online, laptop = tmp_path / "online", tmp_path / "laptop"
    fetch(W.WEIGHTS["resnet18"], data=online, mirror=mirror.as_uri(), progress=False)
    bundle = pack(tmp_path / "bundle.tar", online)
    assert unpack(bundle, laptop) == ["weights/checkpoints/resnet18-f37072fd.pth"]
    assert torch.equal(load_weights("resnet18", data=laptop)["fc.bias"], torch.ones(2))

"""prefetch against a local HTTP server on 127.0.0.1: good, wrong checksum, truncated, server down; bundles."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from camlib import prefetch
from camlib.__main__ import main
from camlib.prefetch import PrefetchError, Resource, fetch, pack, unpack


def targz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TOY = {"images/a.jpg": b"\xff\xd8 not really a jpeg", "annotations/trainval.txt": b"a 1 1 1\n"}
ARCHIVE = targz(TOY)
WEIGHTS = b"pretend these are weights" * 100


def resource(name: str, payload: bytes, **changes: object) -> Resource:
    """A resource with the payload's true digests and size (``changes`` break them on purpose)."""
    fields: dict[str, object] = {
        "sha256": hashlib.sha256(payload).hexdigest(),
        "md5": hashlib.md5(payload).hexdigest(),
        "size": len(payload),
    }
    fields.update(changes)
    extract = name.endswith(".tar.gz")
    produces = tuple(TOY) if extract else (name,)
    return Resource(
        name.split(".")[0], f"https://example.invalid/{name}", "toy", "sub", extract=extract, produces=produces,
        **fields,  # type: ignore[arg-type]
    )  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        kind, _, name = self.path.strip("/").partition("/")
        body = self.files.get(name)
        if body is None or kind == "error503":
            self.send_error(404 if body is None else 503)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # "truncated": the server promises the whole file, sends half of it and closes the connection
        self.wfile.write(body[: len(body) // 2] if kind == "truncated" else body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """``http://127.0.0.1:<free port>``, serving toy.tar.gz, weights.pth, bad.tar.gz under /good, /truncated..."""
    Handler.files = {"toy.tar.gz": ARCHIVE, "weights.pth": WEIGHTS, "bad.tar.gz": b"not a tar archive"}
    Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything that forgets its mirror hits a closed local port, never the internet."""
    monkeypatch.setenv(prefetch.MIRROR_ENV, "http://127.0.0.1:1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_good_archive_is_extracted_once(server: str, tmp_path: Path) -> None:
    res = resource("toy.tar.gz", ARCHIVE)
    dest = fetch(res, data=tmp_path, mirror=f"{server}/good", progress=False)
    assert dest == tmp_path / "toy" / "sub"
    assert files_under(tmp_path) == ["toy/sub/annotations/trainval.txt", "toy/sub/images/a.jpg"]
    assert (dest / "images" / "a.jpg").read_bytes() == TOY["images/a.jpg"]
    assert prefetch.is_present(res, data=tmp_path)
    fetch(res, data=tmp_path, mirror=f"{server}/good", progress=False)  # present: no second download
    assert Handler.requests == ["/good/toy.tar.gz"]
    fetch(res, data=tmp_path, mirror=f"{server}/good", progress=False, force=True)
    assert len(Handler.requests) == 2 and len(files_under(tmp_path)) == 2


def test_good_file_is_saved_under_its_name(server: str, tmp_path: Path) -> None:
    fetch(resource("weights.pth", WEIGHTS), root=tmp_path / "w", mirror=f"{server}/good/", progress=False)
    assert files_under(tmp_path) == ["w/sub/weights.pth"]
    assert (tmp_path / "w" / "sub" / "weights.pth").read_bytes() == WEIGHTS


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"sha256": "0" * 64}, "wrong sha256"), ({"md5": "0" * 32}, "wrong md5"), ({"size": 7}, "expected 7")],
)
def test_wrong_checksum_or_size_leaves_nothing(
    server: str, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    res = resource("toy.tar.gz", ARCHIVE, **changes)
    with pytest.raises(PrefetchError, match=message) as info:
        fetch(res, data=tmp_path, mirror=f"{server}/good", progress=False)
    assert files_under(tmp_path) == []
    assert "retry" in info.value.fix and f"mirror serving {server}/good/toy.tar.gz is up" in info.value.fix
    assert "download https://example.invalid/toy.tar.gz by hand" in info.value.fix
    assert f"extract it into {tmp_path / 'toy' / 'sub'}" in info.value.fix


def test_truncated_download_leaves_nothing(server: str, tmp_path: Path) -> None:
    res = resource("weights.pth", WEIGHTS)
    with pytest.raises(PrefetchError, match="truncated download") as info:
        fetch(res, data=tmp_path, mirror=f"{server}/truncated", progress=False)
    assert f"{len(WEIGHTS) // 2} of {len(WEIGHTS)} bytes" in str(info.value)
    assert files_under(tmp_path) == []
    assert "save it as" in info.value.fix and "--unpack bundle.tar" in info.value.fix


def test_server_down_leaves_nothing(tmp_path: Path) -> None:
    res = resource("toy.tar.gz", ARCHIVE)
    with pytest.raises(PrefetchError, match="cannot reach") as info:
        fetch(res, data=tmp_path, mirror=f"http://127.0.0.1:{free_port()}", progress=False, timeout=5)
    assert files_under(tmp_path) == [] and "retry later" in info.value.fix


def test_http_errors(server: str, tmp_path: Path) -> None:
    with pytest.raises(PrefetchError, match="HTTP 503"):
        fetch(resource("toy.tar.gz", ARCHIVE), data=tmp_path, mirror=f"{server}/error503", progress=False)
    with pytest.raises(PrefetchError, match="HTTP 404"):
        fetch(resource("gone.tar.gz", ARCHIVE), data=tmp_path, mirror=f"{server}/good", progress=False)
    assert files_under(tmp_path) == []


def test_damaged_or_unsafe_archive_leaves_nothing(server: str, tmp_path: Path) -> None:
    with pytest.raises(PrefetchError, match="cannot extract"):
        fetch(
            resource("bad.tar.gz", b"not a tar archive"),
            data=tmp_path,
            mirror=f"{server}/good",
            progress=False,
        )
    evil = targz({"../escaped.txt": b"x"})
    Handler.files["evil.tar.gz"] = evil
    with pytest.raises(PrefetchError, match="unsafe member"):
        fetch(resource("evil.tar.gz", evil), data=tmp_path, mirror=f"{server}/good", progress=False)
    assert files_under(tmp_path) == []


def test_mirror_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(prefetch.MIRROR_ENV, "file:///media/usb/camlib/")
    res = prefetch.REGISTRY["cub-images"]
    assert prefetch.source_url(res) == "file:///media/usb/camlib/CUB_200_2011.tgz"
    monkeypatch.delenv(prefetch.MIRROR_ENV)
    assert prefetch.source_url(res) == res.url


def test_registry_is_complete() -> None:
    assert set(prefetch.resolve(["all"])) == set(prefetch.REGISTRY.values())
    assert [r.name for r in prefetch.resolve(["pets", "pets-images"])] == ["pets-images", "pets-annotations"]
    for r in prefetch.REGISTRY.values():
        assert r.sha256 is not None and len(r.sha256) == 64 and r.size and r.produces
    assert prefetch.REGISTRY["resnet18"].sha256.startswith("f37072fd")  # type: ignore[union-attr]
    with pytest.raises(PrefetchError, match="unknown resource 'imagenet'") as info:
        prefetch.resolve(["imagenet"])
    assert "pets" in info.value.fix


def test_pets_loader_downloads_through_prefetch(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from camlib.data.pets import OxfordPets

    jpg, png = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(jpg, format="JPEG")
    Image.new("L", (8, 8), 1).save(png, format="PNG")
    images = targz({"images/Abyssinian_1.jpg": jpg.getvalue()})
    annotations = targz({"annotations/trainval.txt": b"Abyssinian_1 1 1 1\n", "annotations/test.txt": b"",
                         "annotations/trimaps/Abyssinian_1.png": png.getvalue()})  # fmt: skip
    Handler.files.update({"images.tar.gz": images, "annotations.tar.gz": annotations})
    for name, payload in (("pets-images", images), ("pets-annotations", annotations)):
        real = prefetch.REGISTRY[name]
        fake = dataclasses.replace(
            real, sha256=hashlib.sha256(payload).hexdigest(), md5=None, size=len(payload)
        )
        monkeypatch.setitem(prefetch.REGISTRY, name, fake)
    monkeypatch.setenv(prefetch.MIRROR_ENV, f"{server}/good")
    data = OxfordPets(tmp_path / "pets", download=True, image_size=8)
    assert len(data) == 1 and data.class_names == ("Abyssinian",)
    assert data[0].box is not None and data[0].box.tolist() == [0, 0, 8, 8]


def test_pack_unpack_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "pets" / "oxford-iiit-pet").mkdir(parents=True)
    (data / "pets" / "oxford-iiit-pet" / "x.jpg").write_bytes(b"jpeg bytes")
    (data / "checkpoints").mkdir()
    (data / "checkpoints" / "gap.pt").write_bytes(b"\x00\x01" * 1000)
    (data / "checkpoints" / ".gap.pt.123.part").write_bytes(b"half-written")  # never packed
    for suffix in (".tar", ".tar.gz"):
        bundle = pack(tmp_path / f"bundle{suffix}", data)
        target = tmp_path / f"laptop{suffix}"
        (target / "checkpoints").mkdir(parents=True)
        (target / "checkpoints" / "mine.pt").write_bytes(b"kept")
        assert unpack(bundle, target) == ["checkpoints/gap.pt", "pets/oxford-iiit-pet/x.jpg"]
        assert files_under(target) == [
            "checkpoints/gap.pt",
            "checkpoints/mine.pt",
            "pets/oxford-iiit-pet/x.jpg",
        ]
        assert (target / "checkpoints" / "gap.pt").read_bytes() == b"\x00\x01" * 1000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unpack_refuses_damaged_or_foreign_bundles(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(b"A" * 4096)
    raw = bytearray(pack(tmp_path / "b.tar", data).read_bytes())
    at = raw.index(b"A" * 4096)
    raw[at : at + 10] = b"B" * 10  # a damaged copy: tar headers intact, content changed
    (tmp_path / "damaged.tar").write_bytes(bytes(raw))
    target = tmp_path / "target"
    with pytest.raises(PrefetchError, match="fails its sha256") as info:
        unpack(tmp_path / "damaged.tar", target)
    assert "copy the bundle again" in info.value.fix and files_under(target) == []
    (tmp_path / "foreign.tar").write_bytes(targz({"x.txt": b"x"}))
    with pytest.raises(PrefetchError, match="not a readable camlib bundle"):
        unpack(tmp_path / "foreign.tar", target)
    with pytest.raises(PrefetchError, match="no bundle at"):
        unpack(tmp_path / "missing.tar", target)
    assert files_under(target) == []


def test_cli(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(prefetch, "REGISTRY", {"toy": resource("toy.tar.gz", ARCHIVE)})
    monkeypatch.setattr(prefetch, "GROUPS", {"toys": ("toy",)})
    data = str(tmp_path / "data")
    assert main(["prefetch", "--data", data]) == 0
    listing = capsys.readouterr().out
    assert "toy" in listing and "missing" in listing
    assert main(["prefetch", "toys", "--data", data, "--mirror", f"{server}/truncated"]) == 1
    out = capsys.readouterr().out
    assert "✗ toy: truncated download" in out and "fix: check that the mirror" in out
    assert main(["prefetch", "toys", "--data", data, "--mirror", f"{server}/good"]) == 0
    assert "✓ toy" in capsys.readouterr().out
    assert main(["prefetch", "--data", data]) == 0
    assert "present" in capsys.readouterr().out
    bundle = str(tmp_path / "bundle.tar")
    assert main(["prefetch", "--pack", bundle, "--data", data]) == 0
    assert main(["prefetch", "--unpack", bundle, "--data", str(tmp_path / "copy")]) == 0
    assert "unpacked 2 files" in capsys.readouterr().out
    # a bad argument is a user error: one line on stderr, exit status 2 (a failed download above: 1)
    assert main(["prefetch", "--unpack", str(tmp_path / "nope.tar")]) == 2
    assert main(["prefetch", "imagenet"]) == 2
    err = capsys.readouterr().err
    assert (
        "error: no bundle at" in err
        and "error: unknown resource 'imagenet'" in err
        and len(err.splitlines()) == 2
    )

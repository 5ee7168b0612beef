"""Fetch the optional real datasets and pretrained weights into ``data/`` once, and carry them offline.

``python -m camlib prefetch pets cub weights`` downloads each archive or file, checks its size and digests
(sha256 and md5), and only then puts it in place; a failed download (HTTP error, server down, truncated
file, wrong checksum) leaves nothing behind and says how to fix it. For a workshop, fetch once and copy::

    python -m camlib prefetch pets weights        # on a machine with internet
    python -m camlib prefetch --pack bundle.tar   # one archive of data/, with a sha256 manifest
    python -m camlib prefetch --unpack bundle.tar # on each laptop or the JupyterHub: verified, then merged

``CAMLIB_MIRROR`` (or ``--mirror``) replaces the servers with one base URL that holds the same file names
(``http://10.0.0.2:8000/``, ``file:///media/usb/camlib/``); ``CAMLIB_DATA`` moves ``data/``.

What lives where:

- ``camlib.prefetch`` (here): the registry of resources (:data:`REGISTRY`, :data:`GROUPS`, :func:`resolve`),
  :func:`fetch_group`, :func:`use_weights` and the ``prefetch`` command line; it re-exports the rest.
- ``camlib.prefetch.download``: :class:`Resource`, :class:`PrefetchError`, where a resource comes from and lands
  (:func:`source_url`, :func:`destination`, :func:`is_present`), :func:`fetch` (verified, no partial files).
- ``camlib.prefetch.bundle``: offline bundles, :func:`pack` and :func:`unpack`.
- ``camlib.prefetch.weights``: the backbones' ImageNet weights (:data:`BACKBONES`), :func:`load_weights`
  (pinned size and sha256 checked, then ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from camlib.files import data_dir, sha256_file
from camlib.prefetch.bundle import MANIFEST, pack, unpack
from camlib.prefetch.download import (
    CHUNK,
    MIRROR_ENV,
    PrefetchError,
    Resource,
    destination,
    fetch,
    is_present,
    source_url,
)
from camlib.prefetch.weights import (
    BACKBONES,
    WEIGHTS,
    load_weights,
    verify_weights,
    weights_path,
    weights_resource,
)

__all__ = [
    "BACKBONES",
    "CHUNK",
    "GROUPS",
    "MANIFEST",
    "MIRROR_ENV",
    "REGISTRY",
    "WEIGHTS",
    "PrefetchError",
    "Resource",
    "add_cli",
    "destination",
    "fetch",
    "fetch_group",
    "is_present",
    "load_weights",
    "pack",
    "resolve",
    "sha256_file",
    "source_url",
    "unpack",
    "use_weights",
    "verify_weights",
    "weights_path",
    "weights_resource",
]

_PETS = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
# fmt: off
REGISTRY: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "pets-images", _PETS + "images.tar.gz", "pets", "oxford-iiit-pet",
            "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
            "5c4f3ee8e5d25df40f4fd59a7f44e54c", 791_918_971, produces=("images",),
        ),
        Resource(
            "pets-annotations", _PETS + "annotations.tar.gz", "pets", "oxford-iiit-pet",
            "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
            "95a8c909bbe2e81eed6a22bccdf3f68f", 19_173_078,
            produces=("annotations/trainval.txt", "annotations/test.txt", "annotations/trimaps"),
        ),
        Resource(
            "cub-images", "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
            "cub", "", "0c685df5597a8b24909f6a7c9db6d11e008733779a671760afef78feb49bf081",
            "97eceeb196236b17998738112f37df78", 1_150_585_339,
            produces=("CUB_200_2011/images.txt", "CUB_200_2011/bounding_boxes.txt", "CUB_200_2011/images"),
        ),
        Resource(
            "cub-segmentations", "https://data.caltech.edu/records/w9d68-gec53/files/segmentations.tgz?download=1",
            "cub", "", "dc77f6cffea0cbe2e41d4201115c8f29a6320ecb04fffd2444f51b8066e4b84f",
            "4d47ba1228eae64f2fa547c47bc65255", 39_272_883, produces=("segmentations",),
        ),
        *WEIGHTS.values(),
    )
}
# fmt: on
GROUPS: dict[str, tuple[str, ...]] = {
    "pets": ("pets-images", "pets-annotations"),
    "cub": ("cub-images", "cub-segmentations"),
    "weights": tuple(WEIGHTS),
}


def resolve(names: list[str] | tuple[str, ...]) -> list[Resource]:
    """Resources for group names (``pets``, ``cub``, ``weights``, ``all``) and resource names, in order."""
    out: list[Resource] = []
    for name in names:
        keys = list(REGISTRY) if name == "all" else GROUPS.get(name, (name,))
        for key in keys:
            if key not in REGISTRY:
                raise PrefetchError(f"unknown resource {name!r}", f"use one of {[*GROUPS, 'all', *REGISTRY]}")
            if REGISTRY[key] not in out:
                out.append(REGISTRY[key])
    return out


def fetch_group(name: str, root: Path | None = None, **kwargs: Any) -> list[Path]:
    """Fetch every resource of a group (``pets``, ``cub``, ``weights``) or one resource by name."""
    return [fetch(r, root, **kwargs) for r in resolve([name])]


def use_weights(data: Path | None = None) -> Path:
    """Point ``torch.hub`` at ``data/weights`` so torchvision's pretrained weights load from prefetched files.

    After this, ``torchvision.models.resnet18(weights="IMAGENET1K_V1")`` reads
    ``data/weights/checkpoints/resnet18-f37072fd.pth`` instead of downloading it.
    """
    import torch.hub

    hub = (data if data is not None else data_dir()) / "weights"
    torch.hub.set_dir(str(hub))
    return hub


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.0f} MB"


def _cli(args: argparse.Namespace) -> int:
    """Handler of ``prefetch``: a bad argument or bundle raises (``python -m camlib`` prints it on one line,
    exit status 2); a failed download prints ``✗`` with its fix and gives exit status 1."""
    data = Path(args.data) if args.data else None
    if args.pack and args.unpack:
        raise PrefetchError("--pack and --unpack were both given", "run one, then the other")
    if (args.pack or args.unpack) and args.names:
        raise PrefetchError(
            f"--pack/--unpack work on the whole data folder, not on {args.names}", "leave out the names"
        )
    if args.pack:
        print(f"wrote {pack(Path(args.pack), data, force=args.force, how='--force')}")
        return 0
    if args.unpack:
        files = unpack(Path(args.unpack), data, force=args.force)
        print(f"unpacked {len(files)} files into {data if data is not None else data_dir()}")
        return 0
    resources = resolve(args.names or ["all"])
    if not args.names:
        for r in resources:
            state = "present" if is_present(r, data=data) else "missing"
            print(f"{r.name:<18} {_size(r.size):>9}  {state:<8} {destination(r, data=data)}")
        print("fetch with: python -m camlib prefetch pets cub weights")
        return 0
    failed = 0
    for r in resources:
        try:
            dest = fetch(r, data=data, mirror=args.mirror, force=args.force)
            print(f"✓ {r.name}: {dest}")
        except PrefetchError as exc:
            failed += 1
            print(f"✗ {exc}")
    return 1 if failed else 0


def add_cli(subparsers: Any) -> None:
    """Register ``prefetch`` with the course CLI."""
    p = subparsers.add_parser(
        "prefetch", help="fetch real datasets and pretrained weights; pack/unpack a bundle"
    )
    p.add_argument(
        "names", nargs="*", help=f"{', '.join([*GROUPS, 'all', *REGISTRY])}; none: list what is there"
    )
    p.add_argument("--data", help="data dir (default: $CAMLIB_DATA or the repo's data/)")
    p.add_argument("--mirror", help=f"base URL serving the same file names (default: ${MIRROR_ENV})")
    p.add_argument(
        "--force",
        action="store_true",
        help="fetch again even when present; with --pack, replace an existing bundle; with --unpack, replace "
        "files that differ",
    )
    p.add_argument("--pack", metavar="BUNDLE", help="write data/ into one archive (.tar, or .tar.gz)")
    p.add_argument("--unpack", metavar="BUNDLE", help="verify a bundle and merge it into data/")
    p.set_defaults(func=_cli)

"""The creatures of the synthetic dataset, written as data: each class is a list of convex parts.

A creature lives in its own frame: ``u`` runs along its length from tail (-1) to head (+1), ``v`` runs down,
in units of half its length. Parts are drawn in layer order; every part carries its family's texture
(checker, stripes, dots, rings; heads, tails and feet with the colours swapped), so the class evidence covers
the whole object, not one spot, and a class activation map can cover its extent.
Two pairs of classes differ only by a small **discriminative part** (the firefly's lantern, the shark's fin),
always drawn on top, whose box the dataset annotates.

Colours are not part of a class: every sample paints ``base`` / ``trim`` / ``mark`` with three distinct colours
drawn at random from the shared palette.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from camlib.data.shapes.draw import ellipse_rows, fill_rows, parity, pixel_centres, polygon_rows


@dataclass(frozen=True)
class Ellipse:
    """Axis-aligned ellipse centred at ``(u, v)`` with semi-axes ``ru``, ``rv`` (frame units)."""

    u: float
    v: float
    ru: float
    rv: float


@dataclass(frozen=True)
class Rect:
    """Rectangle ``u0 <= u <= u1``, ``v0 <= v <= v1``."""

    u0: float
    u1: float
    v0: float
    v1: float


@dataclass(frozen=True)
class Polygon:
    """Convex polygon with constant ``(u, v)`` vertices."""

    vertices: tuple[tuple[float, float], ...]


Shape = Ellipse | Rect | Polygon

#: texture -> (period in frame units, dot radius); painted ``base`` with a ``trim`` pattern
TEXTURES: dict[str, tuple[float, float]] = {
    "checker": (0.40, 0.0),
    "stripes": (0.36, 0.0),
    "dots": (0.40, 0.13),
    "rings": (0.26, 0.0),
    "diagonal": (0.34, 0.0),
    "bands": (0.3, 0.0),
}
COLOURS = {"base": 1, "trim": 2, "mark": 3}
PART_LAYER = 3  # discriminative parts are drawn on top of everything else
INVERTED = ("trim", "base")
MARKED = ("mark", "trim")  # the discriminative parts: bands of the third colour


@dataclass(frozen=True)
class Part:
    """One convex piece of a creature.

    Attributes:
        name: what it depicts (``"body"``, ``"head"`` ...).
        shape: its outline in frame units.
        paint: ``"base"``, ``"trim"``, ``"mark"`` (flat colours) or a texture name of :data:`TEXTURES`.
        layer: drawing order, 1 or 2 (higher on top); a discriminative part is always drawn on layer 3.
        colours: for a texture, its ground and pattern paints (heads and tails swap them: ``("trim", "base")``).
        clip: optional window ``(u0, u1, v0, v1)`` the shape is cut to (a dome, the end of a body).
        discriminative: the part that tells this class from its twin; its pixels give the part box.
    """

    name: str
    shape: Shape
    paint: str
    layer: int = 1
    colours: tuple[str, str] = ("base", "trim")
    clip: tuple[float, float, float, float] | None = None
    discriminative: bool = False

    def extent(self) -> tuple[float, float, float, float]:
        """``(u0, u1, v0, v1)`` bounds of the part in frame units."""
        s = self.shape
        if isinstance(s, Ellipse):
            b = (s.u - s.ru, s.u + s.ru, s.v - s.rv, s.v + s.rv)
        elif isinstance(s, Rect):
            b = (s.u0, s.u1, s.v0, s.v1)
        else:
            us, vs = zip(*s.vertices, strict=True)
            b = (min(us), max(us), min(vs), max(vs))
        if self.clip is not None:
            c = self.clip
            b = (max(b[0], c[0]), min(b[1], c[1]), max(b[2], c[2]), min(b[3], c[3]))
        return b

    def row_intervals(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """(G, H) rows in frame ``v`` -> the part's ``[lo, hi]`` in ``u`` on each row (``lo > hi``: empty)."""
        s = self.shape
        if isinstance(s, Ellipse):
            lo, hi = ellipse_rows(v, s.u, s.v, s.ru, s.rv)
        elif isinstance(s, Rect):
            inside = (v >= s.v0) & (v <= s.v1)
            lo, hi = torch.where(inside, s.u0, 1.0), torch.where(inside, s.u1, -1.0)
        else:
            lo, hi = polygon_rows(v, s.vertices)
        if self.clip is not None:
            u0, u1, v0, v1 = self.clip
            inside = (v >= v0) & (v <= v1)
            lo, hi = torch.where(inside, lo.clamp_min(u0), 1.0), torch.where(inside, hi.clamp_max(u1), -1.0)
        return lo, hi


@dataclass(frozen=True)
class Creature:
    """A class of the dataset: a name, a one-line description and its parts."""

    name: str
    description: str
    parts: tuple[Part, ...]

    def extent(self) -> tuple[float, float, float, float]:
        """``(u0, u1, v0, v1)`` bounds of the whole creature in frame units."""
        e = [p.extent() for p in self.parts]
        return (min(b[0] for b in e), max(b[1] for b in e), min(b[2] for b in e), max(b[3] for b in e))

    @property
    def part_name(self) -> str | None:
        """Name of the discriminative part, if the class has one."""
        return next((p.name for p in self.parts if p.discriminative), None)


_BEETLE = (
    Part("shell", Ellipse(-0.2, 0.0, 0.8, 0.9), "checker", 1),
    Part("head", Ellipse(0.7, 0.0, 0.3, 0.4), "checker", 2, colours=INVERTED),
)
_FISH = (
    Part("tail", Polygon(((-1.0, -0.65), (-1.0, 0.65), (-0.5, 0.0))), "stripes", 1, colours=INVERTED),
    Part("body", Ellipse(0.15, 0.0, 0.85, 0.78), "stripes", 2),
)

CREATURES: tuple[Creature, ...] = (
    Creature("beetle", "round checkered shell and a head", _BEETLE),
    Creature(
        "firefly",
        "a beetle whose shell ends in a banded lantern (its rear fifth, in a third colour)",
        (
            *_BEETLE,
            Part(
                "lantern",
                _BEETLE[0].shape,
                "bands",
                colours=MARKED,
                clip=(-9, -0.55, -9, 9),
                discriminative=True,
            ),
        ),
    ),
    Creature("fish", "striped round body with a triangular tail fin", _FISH),
    Creature(
        "shark",
        "a fish with a banded dorsal fin (in a third colour) on its back",
        (
            *_FISH,
            Part(
                "fin", Polygon(((-0.35, -0.45), (0.45, -0.45), (-0.25, -1.02))), "mark", discriminative=True
            ),
        ),
    ),
    Creature(
        "turtle",
        "dotted dome shell over a flat belly, a head and two feet",
        (
            Part("belly", Rect(-0.92, 0.62, 0.25, 0.45), "dots", 1, colours=INVERTED),
            Part("front foot", Rect(0.1, 0.42, 0.4, 0.75), "dots", 1, colours=INVERTED),
            Part("back foot", Rect(-0.72, -0.4, 0.4, 0.75), "dots", 1, colours=INVERTED),
            Part("head", Ellipse(0.76, 0.2, 0.24, 0.24), "dots", 1, colours=INVERTED),
            Part("shell", Ellipse(-0.15, 0.3, 0.85, 1.1), "dots", 2, clip=(-9, 9, -9, 0.3)),
        ),
    ),
    Creature(
        "snail",
        "a ringed round shell on a long flat foot with a raised head",
        (
            Part("foot", Rect(-1.0, 0.65, 0.35, 0.62), "rings", 1, colours=INVERTED),
            Part("head", Ellipse(0.72, 0.3, 0.28, 0.32), "rings", 1, colours=INVERTED),
            Part("shell", Ellipse(-0.2, -0.25, 0.75, 0.8), "rings", 2),
        ),
    ),
)

#: the distractor: an object of no class, built from the same kind of parts
CART = Creature(
    "cart",
    "a diagonally striped box on two wheels (belongs to no class)",
    (
        Part("box", Rect(-1.0, 1.0, -0.6, 0.35), "diagonal", 1),
        Part("back wheel", Ellipse(-0.55, 0.4, 0.22, 0.22), "diagonal", 2, colours=INVERTED),
        Part("front wheel", Ellipse(0.55, 0.4, 0.22, 0.22), "diagonal", 2, colours=INVERTED),
    ),
)


def shapes_twins() -> dict[str, str]:
    """The embedded dataset's twins, read from its class definitions: a class whose parts are another's plus one
    discriminative part (and the reverse).

    >>> shapes_twins()
    {'firefly': 'beetle', 'beetle': 'firefly', 'shark': 'fish', 'fish': 'shark'}
    """
    out: dict[str, str] = {}
    for c in CREATURES:
        if c.part_name is None:
            continue
        base = tuple(p for p in c.parts if not p.discriminative)
        for other in CREATURES:
            if other is not c and other.parts == base:
                out[c.name], out[other.name] = other.name, c.name
    return out


def _texture(part: Part, name: str, u: Tensor, v: Tensor, phase_u: Tensor, phase_v: Tensor) -> Tensor:
    """Pattern of texture ``name`` at every pixel: u (G, W), v (G, H), phases (G,) -> (G, H, W) bool."""
    period, radius = TEXTURES[name]
    pu, pv = (u + phase_u[:, None]) / period, (v + phase_v[:, None]) / period  # (G, W), (G, H)
    if name == "checker":
        return parity(pv)[:, :, None] ^ parity(pu)[:, None, :]  # (G, H, W)
    if name == "stripes":
        return parity(pu)[:, None, :].expand(-1, v.shape[1], -1)  # (G, H, W)
    if name == "bands":  # across the creature: no class body and no clutter has them
        return parity(pv)[:, :, None].expand(-1, -1, u.shape[1])  # (G, H, W)
    if name == "diagonal":
        return parity(pv[:, :, None] + pu[:, None, :])  # (G, H, W)
    if name == "dots":
        du, dv = pu - pu.floor() - 0.5, pv - pv.floor() - 0.5  # (G, W), (G, H)
        r = radius / period
        return (dv * dv)[:, :, None] + (du * du)[:, None, :] <= r * r  # (G, H, W)
    if name == "rings":
        s = part.shape
        cu, cv = (s.u, s.v) if isinstance(s, Ellipse) else (0.0, 0.0)
        du, dv = u - cu, v - cv  # (G, W), (G, H)
        d = torch.sqrt((dv * dv)[:, :, None] + (du * du)[:, None, :])  # (G, H, W)
        return parity(d / period + phase_u[:, None, None])
    raise ValueError(f"unknown texture {name!r}: use one of {sorted(TEXTURES)}")


def render(
    creature: Creature,
    cx: Tensor,
    cy: Tensor,
    half: Tensor,
    aspect: Tensor,
    flip: Tensor,
    phase_u: Tensor,
    phase_v: Tensor,
    size: int,
) -> Tensor:
    """Draw G copies of one creature.

    Args:
        creature: what to draw.
        cx, cy: (G,) pixel position of the frame's origin.
        half: (G,) half the creature's length in pixels (the frame unit).
        aspect: (G,) vertical stretch of the frame.
        flip: (G,) +1 (head to the right) or -1.
        phase_u, phase_v: (G,) texture offsets in frame units.
        size: image side H = W.

    Returns:
        (G, H, W) uint8 paint codes ``4 * layer + colour`` (colour 1 base, 2 trim, 3 mark; 0 = not the object).
    """
    x = pixel_centres(size, cx.device)  # (W,)
    u = flip[:, None] * (x - cx[:, None]) / half[:, None]  # (G, W)
    v = (x - cy[:, None]) / (half * aspect)[:, None]  # (G, H)
    paint = torch.zeros(cx.shape[0], size, size, dtype=torch.uint8, device=cx.device)
    for part in creature.parts:
        lo, hi = part.row_intervals(v)  # (G, H) in u
        empty = lo > hi
        xa = cx[:, None] + (flip * half)[:, None] * lo  # (G, H)
        xb = cx[:, None] + (flip * half)[:, None] * hi
        xlo = torch.where(empty, float(size + 1), torch.minimum(xa, xb))
        xhi = torch.where(empty, -1.0, torch.maximum(xa, xb))
        mask = fill_rows(xlo, xhi, size)  # (G, H, W) uint8
        layer = PART_LAYER if part.discriminative else part.layer
        if part.paint in COLOURS:
            code = mask * (4 * layer + COLOURS[part.paint])
        else:
            tex = _texture(part, part.paint, u, v, phase_u, phase_v).to(torch.uint8)  # (G, H, W)
            c0, c1 = (COLOURS[c] for c in part.colours)
            code = mask * (tex * (c1 - c0) + (4 * layer + c0))  # uint8 arithmetic wraps back for c1 < c0
        paint = torch.maximum(paint, code)
    return paint

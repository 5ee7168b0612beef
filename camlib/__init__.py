"""camlib — the library behind the CAM course (Zhou et al., CVPR 2016)."""

__version__ = "0.1.0"

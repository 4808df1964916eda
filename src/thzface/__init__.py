"""thzface: concealed-face analysis in THz imaging."""

__version__ = "0.1.0"

"""The data layer: seed naming, image I/O, triplet CSVs, datasets, P×K sampler, augmentation, check and split.

Import the submodules directly (``thzface.data.csv``, ``thzface.data.datasets``, ...); this package imports
nothing at load time so that ``thzface.data.naming`` stays cheap.
"""

"""The images a verb is given: files as they are, folders expanded to the images they hold."""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted); clear errors for missing/empty inputs."""
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS)
            if not found:
                raise ValueError(f"{p}: folder holds no images")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return files

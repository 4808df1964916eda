"""The seed file-naming scheme, in one place: ``<identity>_<b|n><p><b|n>_<sample>.png``.

``b`` = concealed (behind clothing), ``n`` = unconcealed; ``p`` = posture code 1..5
(1 Front, 2 Left, 3 Right, 4 Up, 5 Down). Posture *labels* inside thzface are 0-based (code - 1):
the reference code's mixing of the two crashed (seed-reference §1, defect 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSTURES: tuple[str, ...] = ("front", "left", "right", "up", "down")  # index = 0-based label
NUM_POSTURES = len(POSTURES)
_MIRROR = {"left": "right", "right": "left"}
MIRRORED_POSTURE: tuple[int, ...] = tuple(POSTURES.index(_MIRROR.get(p, p)) for p in POSTURES)  # label of the mirror
IMAGE_SUFFIX = ".png"

_TOKEN = re.compile(r"^[A-Za-z0-9-]+$")
_STATE = re.compile(r"^([bn])([1-5])([bn])$")


class NameError_(ValueError):
    """A file name does not follow the seed naming scheme."""


@dataclass(frozen=True, order=True)
class ImageName:
    identity: str  # identity token: letters, digits and '-' (no underscore)
    posture: int  # 0-based posture label (0 front .. 4 down)
    concealed: bool  # True for b<p>b, False for n<p>n
    sample: str  # sample token: letters, digits and '-'

    @property
    def posture_code(self) -> int:
        """The 1-based code used in file names."""
        return self.posture + 1

    @property
    def posture_name(self) -> str:
        return POSTURES[self.posture]

    @property
    def state(self) -> str:
        c = "b" if self.concealed else "n"
        return f"{c}{self.posture_code}{c}"

    @property
    def filename(self) -> str:
        return format_name(self.identity, self.posture, self.concealed, self.sample)

    def counterpart(self) -> ImageName:
        """The same identity/posture/sample in the other state (concealed ↔ unconcealed)."""
        return ImageName(self.identity, self.posture, not self.concealed, self.sample)


def format_name(identity: str, posture: int, concealed: bool, sample: str | int) -> str:
    """Build a seed file name; ``posture`` is the 0-based label."""
    sample = str(sample)
    if not _TOKEN.match(identity or ""):
        raise NameError_(f"identity {identity!r}: use letters, digits and '-' only (no underscore)")
    if not _TOKEN.match(sample):
        raise NameError_(f"sample {sample!r}: use letters, digits and '-' only (no underscore)")
    if isinstance(posture, bool) or not (isinstance(posture, int) and 0 <= posture < NUM_POSTURES):
        raise NameError_(f"posture {posture!r}: expected a 0-based label 0..{NUM_POSTURES - 1}")
    c = "b" if concealed else "n"
    return f"{identity}_{c}{posture + 1}{c}_{sample}{IMAGE_SUFFIX}"


def parse_name(name: str) -> ImageName:
    """Parse a seed file name (a bare name, not a path). Raises NameError_ with the exact problem."""
    if "/" in name or "\\" in name:
        raise NameError_(f"{name}: expected a bare file name, not a path")
    if not name.endswith(IMAGE_SUFFIX):
        raise NameError_(f"{name}: expected a .png file (lower-case suffix)")
    stem = name[: -len(IMAGE_SUFFIX)]
    parts = stem.split("_")
    if len(parts) != 3:
        raise NameError_(
            f"{name}: expected <identity>_<b|n><posture><b|n>_<sample>.png with exactly two '_', found {len(parts) - 1}"
        )
    identity, state, sample = parts
    if not identity:
        raise NameError_(f"{name}: empty identity")
    if not _TOKEN.match(identity):
        raise NameError_(f"{name}: identity {identity!r} may hold only letters, digits and '-'")
    m = _STATE.match(state)
    if not m:
        if re.match(r"^[bn][0-9][bn]$", state):
            raise NameError_(f"{name}: posture code {state[1]} out of range 1..5")
        raise NameError_(f"{name}: state {state!r} is not b<1-5>b or n<1-5>n")
    if m.group(1) != m.group(3):
        raise NameError_(f"{name}: state {state!r} mixes b and n")
    if not sample:
        raise NameError_(f"{name}: empty sample")
    if not _TOKEN.match(sample):
        raise NameError_(f"{name}: sample {sample!r} may hold only letters, digits and '-'")
    return ImageName(identity, int(m.group(2)) - 1, m.group(1) == "b", sample)

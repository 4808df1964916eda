from __future__ import annotations

import pytest

from thzface.data.naming import ImageName, NameError_, format_name, parse_name


def test_round_trip_every_posture_and_state():
    for posture in range(5):
        for concealed in (True, False):
            name = format_name("id-07", posture, concealed, 3)
            parsed = parse_name(name)
            assert parsed == ImageName("id-07", posture, concealed, "3")
            assert parsed.filename == name
    assert format_name("id1", 0, True, 1) == "id1_b1b_1.png"
    assert parse_name("id1_n5n_2.png").posture_name == "down"
    assert parse_name("id1_b3b_2.png").counterpart().filename == "id1_n3n_2.png"


@pytest.mark.parametrize(
    "name, message",
    [
        ("id1_b1b_1.jpg", "expected a .png file"),
        ("id1_b1b.png", "exactly two '_', found 1"),
        ("id_1_b1b_1.png", "exactly two '_', found 3"),
        ("_b1b_1.png", "empty identity"),
        ("id1_b6b_1.png", "posture code 6 out of range 1..5"),
        ("id1_x1x_1.png", "state 'x1x' is not b<1-5>b or n<1-5>n"),
        ("id1_b1n_1.png", "state 'b1n' mixes b and n"),
        ("id1_b1b_.png", "empty sample"),
        ("id.1_b1b_1.png", "identity 'id.1' may hold only"),
        ("id1_b1b_1 2.png", "sample '1 2' may hold only"),
        ("dir/id1_b1b_1.png", "expected a bare file name"),
    ],
)
def test_parse_errors(name, message):
    with pytest.raises(NameError_, match=message.replace("(", r"\(").replace(")", r"\)").replace("..", r"\.\.")):
        parse_name(name)


def test_format_errors():
    with pytest.raises(NameError_, match="no underscore"):
        format_name("id_1", 0, True, 1)
    with pytest.raises(NameError_, match="0-based label 0..4"):
        format_name("id1", 5, True, 1)

import doctest
from pathlib import Path

import pytest

import app


@pytest.mark.model
def test_docstring_example_runs():
    failures, tried = doctest.testmod(app, verbose=False)
    assert tried >= 4 and failures == 0


@pytest.mark.model
def test_remove_background_accepts_bytes_and_pil_images_and_gives_a_mask():
    data = (Path(app.__file__).parent / "assets" / "sample-coffee.jpg").read_bytes()
    import io

    from PIL import Image

    mask = app.remove_background(data, mask_only=True)
    assert mask.mode == "L" and mask.size == (600, 400)
    again = app.remove_background(Image.open(io.BytesIO(data)), mask_only=True)
    assert again.tobytes() == mask.tobytes()

"""The trainer's loader sees every image as a viewer shows it: each file in tests/helpers/image_modes.py is made
from known intended pixels, and `load_rgb` must give those pixels back (and `image_size` their size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from sanacloud.model.data.folder import image_size, load_rgb
from tests.helpers.image_modes import CASES, REFUSED, Case, Refused, max_difference


def write(tmp_path: Path, case: Case | Refused) -> Path:
    path = tmp_path / f"image.{case.suffix}"
    path.write_bytes(case.data)
    return path


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_trainer_sees_what_a_viewer_shows(tmp_path: Path, case: Case) -> None:
    path = write(tmp_path, case)
    shown = load_rgb(path)
    assert (shown.mode, shown.size, image_size(path)) == ("RGB", case.shown.size, case.shown.size)
    assert max_difference(shown, case.shown) <= case.tolerance


def test_a_dark_16_bit_grey_stays_dark(tmp_path: Path) -> None:
    path = tmp_path / "dark.png"
    Image.new("I;16", (32, 32), 1000).save(path)  # 1000 of 65535: a 1.5 % grey
    assert load_rgb(path).getpixel((0, 0)) == (4, 4, 4)


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_images_without_a_display_mapping_fail_naming_the_file(tmp_path: Path, case: Refused) -> None:
    path = write(tmp_path, case)
    for read in (load_rgb, image_size):
        with pytest.raises(ValueError, match=rf"image '.*image\.{case.suffix}' cannot be .*: {case.reason}"):
            read(path)


def test_the_conversion_imports_no_torch() -> None:
    """The API uses it, and must start without torch."""
    check = "import sys, sanacloud.model.imaging; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", check], check=True)


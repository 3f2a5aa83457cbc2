"""Image IO: 16-bit PNG at full precision, colour spaces, saturation, EXR, bad files."""

from __future__ import annotations

import numpy as np
import OpenEXR
import pytest
from PIL import Image

from neutex.capture import (
    ImageReadError,
    png_bit_depth,
    read_array_file,
    read_image,
    read_mask,
    write_exr,
    write_png,
    write_png_codes,
)
from neutex.color import srgb_to_linear
from neutex.errors import CaptureError


def _low_byte_codes() -> np.ndarray:
    """(4, 8, 3) uint16 codes 0x1200..0x12FF: the high byte is the same everywhere."""
    return (0x1200 + np.arange(4 * 8 * 3).reshape(4, 8, 3) * 2 % 256).astype(np.uint16)


def test_16bit_png_low_byte_read_exactly(tmp_path):
    codes = _low_byte_codes()
    assert len(np.unique(codes)) > 50 and (codes >> 8 == 0x12).all()
    p = tmp_path / "low.png"
    write_png_codes(p, codes)
    assert png_bit_depth(p) == 16
    img = read_image(p, "linear")
    assert img.dtype == np.float32 and img.shape == (4, 8, 3)
    np.testing.assert_array_equal(np.round(img.astype(np.float64) * 65535).astype(np.uint16), codes)
    np.testing.assert_array_equal(img, codes.astype(np.float32) / np.float32(65535))
    # an 8-bit read (Pillow's, for 16-bit RGB) would have lost every difference
    with Image.open(p) as im:
        eight = np.asarray(im.convert("RGB"))
    assert eight.dtype == np.uint8 and len(np.unique(eight)) == 1


def test_16bit_grey_and_8bit_png(tmp_path):
    write_png_codes(tmp_path / "g16.png", np.array([[0, 1, 65535]], np.uint16))
    g = read_image(tmp_path / "g16.png")
    assert g.shape == (1, 3, 3) and (g[..., 0] == g[..., 2]).all()
    assert g[0, 1, 0] == np.float32(1 / 65535)
    write_png_codes(tmp_path / "c8.png", np.array([[[0, 128, 255]]], np.uint8))
    assert png_bit_depth(tmp_path / "c8.png") == 8
    lin = read_image(tmp_path / "c8.png", "linear")
    srgb = read_image(tmp_path / "c8.png", "srgb")
    np.testing.assert_allclose(lin[0, 0], [0, 128 / 255, 1], rtol=1e-6)
    np.testing.assert_allclose(srgb[0, 0], srgb_to_linear(np.array([0, 128 / 255, 1.0])), rtol=1e-6)
    assert srgb[0, 0, 1] == pytest.approx(0.2158605, abs=1e-6)  # sRGB 128 -> linear 0.2159


def test_saturation_mask_at_the_maximum_code(tmp_path):
    c16 = np.full((2, 3, 3), 1000, np.uint16)
    c16[0, 1, 2] = 65535
    c16[1, 2, 0] = 65534  # one code below: not saturated
    write_png_codes(tmp_path / "s16.png", c16)
    _, sat = read_image(tmp_path / "s16.png", return_max=True)
    np.testing.assert_array_equal(sat, [[False, True, False], [False, False, False]])
    c8 = np.full((2, 2, 3), 10, np.uint8)
    c8[1, 0, 1] = 255
    write_png_codes(tmp_path / "s8.png", c8)
    _, sat8 = read_image(tmp_path / "s8.png", "srgb", return_max=True)
    np.testing.assert_array_equal(sat8, [[False, False], [True, False]])
    write_exr(tmp_path / "e.exr", np.full((2, 2, 3), 1e4, np.float32))
    _, sate = read_image(tmp_path / "e.exr", return_max=True)
    assert not sate.any()


def test_jpeg_is_srgb_decoded(tmp_path):
    p = tmp_path / "a.jpg"
    Image.fromarray(np.full((16, 16, 3), [200, 100, 255], np.uint8)).save(p, quality=100)
    for cs in ("linear", "srgb"):  # JPEG is always sRGB
        img, sat = read_image(p, cs, return_max=True)
        np.testing.assert_allclose(img[8, 8], srgb_to_linear(np.array([200, 100, 255]) / 255), atol=4e-3)
        assert sat.all()  # blue at 255


@pytest.mark.parametrize("half", [True, False])
def test_exr_roundtrip(tmp_path, half):
    rng = np.random.default_rng(0)
    img = rng.random((5, 7, 3)).astype(np.float32) * 10
    write_exr(tmp_path / "a.exr", img, half=half)
    back = read_image(tmp_path / "a.exr")
    if half:
        np.testing.assert_array_equal(back, img.astype(np.float16).astype(np.float32))
    else:
        np.testing.assert_array_equal(back, img)


def test_exr_two_and_one_channels(tmp_path):
    uv = np.random.default_rng(1).random((4, 5, 2)).astype(np.float32)
    write_exr(tmp_path / "uv.exr", uv, half=False)
    np.testing.assert_array_equal(read_array_file(tmp_path / "uv.exr"), uv)
    with pytest.raises(ImageReadError, match="EXR has only R and G channels"):
        read_image(tmp_path / "uv.exr")
    write_exr(tmp_path / "y.exr", uv[..., 0], half=False)
    y = read_image(tmp_path / "y.exr")
    assert y.shape == (4, 5, 3) and (y[..., 2] == uv[..., 0]).all()


def test_write_exr_refuses_values_it_cannot_store(tmp_path):
    with pytest.raises(ValueError, match="half-float range"):
        write_exr(tmp_path / "a.exr", np.full((2, 2, 3), 1e5, np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        write_exr(tmp_path / "a.exr", np.full((2, 2, 3), np.nan, np.float32), half=False)
    write_exr(tmp_path / "b.exr", np.full((2, 2, 3), 1e5, np.float32), half=False)
    assert read_image(tmp_path / "b.exr").max() == 1e5


def test_nan_pixels_are_an_error(tmp_path):
    img = np.ones((3, 4, 3), np.float32)
    img[2, 1, 0] = np.nan
    img[0, 3, 2] = np.inf
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": img}) as f:
        f.write(str(tmp_path / "nan.exr"))
    with pytest.raises(ImageReadError, match=r"nan.exr: 2 pixels are NaN or inf \(first at row 0, column 3\)"):
        read_image(tmp_path / "nan.exr")
    np.save(tmp_path / "nan.npy", img)
    with pytest.raises(ImageReadError, match="NaN or inf"):
        read_array_file(tmp_path / "nan.npy")


@pytest.mark.parametrize("suffix", [".png", ".exr", ".jpg"])
def test_truncated_files_are_one_line_errors(tmp_path, suffix, capfd):
    p = tmp_path / f"a{suffix}"
    rng = np.random.default_rng(0)
    if suffix == ".png":
        write_png_codes(p, rng.integers(0, 65535, (32, 32, 3)).astype(np.uint16))
    elif suffix == ".exr":
        write_exr(p, rng.random((32, 32, 3)).astype(np.float32))
    else:
        Image.fromarray(rng.integers(0, 255, (32, 32, 3)).astype(np.uint8)).save(p, quality=90)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageReadError) as e:
        read_image(p)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(p)) and ("truncated" in msg)
    assert e.value.path == p and isinstance(e.value, CaptureError)
    # OpenCV ("[ WARN:0@0.008] global grfmt_png.cpp ...") and OpenEXR write to the C stderr (and
    # stdout): silenced
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("cut", [None, 20, 600])
def test_damaged_exr_says_so_without_library_text(tmp_path, capfd, cut):
    p = tmp_path / "a.exr"
    write_exr(p, np.random.default_rng(0).random((32, 32, 3)).astype(np.float32))
    data = p.read_bytes()
    p.write_bytes(np.random.default_rng(1).bytes(500) if cut is None else data[:cut])
    with pytest.raises(ImageReadError) as e:
        read_image(p)
    assert e.value.problem == "not a readable EXR (truncated or corrupt)"  # not OpenEXR's "Unable to open ..."
    assert capfd.readouterr() == ("", "")
    print("still printing")  # stdout and stderr are back after the read
    print("still printing", file=__import__("sys").stderr)
    assert capfd.readouterr() == ("still printing\n", "still printing\n")


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(ImageReadError, match=r"nope.png: file not found"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "a.tif").write_bytes(b"II*\0")
    with pytest.raises(ImageReadError, match=r"a.tif: unsupported image format '.tif'"):
        read_image(tmp_path / "a.tif")
    (tmp_path / "fake.png").write_bytes(b"hello, not a png at all, but long enough for a header")
    with pytest.raises(ImageReadError, match=r"fake.png: not a PNG file"):
        read_image(tmp_path / "fake.png")
    with pytest.raises(ValueError, match="color_space"):
        read_image(tmp_path / "fake.png", "rec709")


def test_masks_and_png_writer(tmp_path):
    m = np.zeros((3, 4), bool)
    m[1, 2] = True
    write_png_codes(tmp_path / "m.png", m)  # bool -> 0 / 255
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), m)
    write_png_codes(tmp_path / "t.png", np.array([[127, 128]], np.uint8))
    np.testing.assert_array_equal(read_mask(tmp_path / "t.png"), [[False, True]])
    ga = np.zeros((2, 2, 2), np.uint8)
    ga[..., 0] = [[0, 255], [255, 0]]
    ga[..., 1] = 255  # grey + alpha
    write_png_codes(tmp_path / "ga.png", ga)
    np.testing.assert_array_equal(read_mask(tmp_path / "ga.png"), [[False, True], [True, False]])
    with pytest.raises(ValueError, match="uint8, uint16 or bool"):
        write_png_codes(tmp_path / "x.png", np.zeros((2, 2), np.int64))
    write_png(tmp_path / "w16.png", np.array([[0.5, 1.0]]), bits=16, color_space="linear")
    np.testing.assert_allclose(read_image(tmp_path / "w16.png")[0, :, 0], [32768 / 65535, 1.0])
    write_png(tmp_path / "w8.png", np.array([[0.2158605]]), bits=8)  # sRGB by default
    assert read_image(tmp_path / "w8.png", "srgb")[0, 0, 0] == pytest.approx(0.2158605, abs=1e-6)

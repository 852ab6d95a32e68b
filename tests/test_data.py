"""Data loading: image folders, arrays, IDX, CIFAR batches, built-in sets.

Every file is written by the test in tmp_path, with uniform colours where possible so
that the expected pixel after crop + resize is known exactly (Lanczos weights sum to 1).
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.core.config import DataConfig
from ganforge.data import load_data
from ganforge.data.builtin import grid25_centers, ring8_centers, stacked_mnist_arrays
from ganforge.data.files import DataError, SkippedFilesWarning, read_idx
from ganforge.data.transforms import to_model_range


def load(spec, **kw):
    return load_data(DataConfig(spec=str(spec), **kw))


def pixel(data, i):
    """Centre pixel of item i as 0..255 floats (C,)."""
    x = data.x[i]
    return ((x[:, x.shape[1] // 2, x.shape[2] // 2] + 1) * 127.5).numpy()


def solid(mode, size, color):
    return Image.new(mode, size, color)


# ------------------------------------------------------------------------- image folders


@pytest.fixture
def mixed_folder(tmp_path):
    """One file per format/mode; names sort in the order of EXPECTED below."""
    d = tmp_path / "imgs"
    d.mkdir()
    solid("L", (12, 10), 100).save(d / "a_gray.png")
    solid("RGB", (10, 12), (200, 30, 60)).save(d / "b_rgb.png")
    solid("RGB", (16, 16), (200, 30, 60)).save(d / "c_rgb.jpg", quality=95)
    solid("RGB", (9, 9), (10, 20, 30)).save(d / "d_rgb.bmp")
    solid("RGB", (9, 9), (40, 50, 60)).save(d / "e_rgb.webp", lossless=True)
    frames = [solid("RGB", (8, 8), (255, 0, 0)), solid("RGB", (8, 8), (0, 0, 255))]
    frames[0].save(d / "f_anim.gif", save_all=True, append_images=frames[1:])
    # fully transparent black: compositing on white must give white, not black
    solid("RGBA", (8, 8), (0, 0, 0, 0)).save(d / "g_rgba.png")
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 0, 128, 255] + [0] * 762)
    pal.save(d / "h_pal.png")
    # 16-bit: 128 * 257 must become 128, not be clipped to 255
    Image.fromarray(np.full((8, 8), 128 * 257, np.uint16)).save(d / "i_16bit.png")
    (d / "z_corrupt.png").write_bytes(b"this is not a png at all")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(d / "z_noise.png")
    raw = (d / "z_noise.png").read_bytes()
    (d / "z_noise.png").unlink()
    (d / "z_truncated.png").write_bytes(raw[: len(raw) // 2])
    (d / "notes.txt").write_text("not an image")
    return d


EXPECTED = [
    (100, 100, 100),
    (200, 30, 60),
    (200, 30, 60),  # JPEG: approximate
    (10, 20, 30),
    (40, 50, 60),
    (255, 0, 0),  # GIF: first frame
    (255, 255, 255),  # transparent -> white
    (0, 128, 255),  # palette entry 1
    (128, 128, 128),  # 16-bit scaled
]


def test_folder_formats_modes_and_skips(mixed_folder):
    with pytest.warns(SkippedFilesWarning, match=r"skipped 2 files") as rec:
        data = load(mixed_folder, resolution=8)
    assert "z_corrupt.png" in str(rec[0].message)
    assert data.x.shape == (len(EXPECTED), 3, 8, 8)
    assert data.x.dtype == torch.float32 and data.x.min() >= -1 and data.x.max() <= 1
    assert data.y is None and data.num_classes == 0
    for i, want in enumerate(EXPECTED):
        tol = 4 if i == 2 else 1
        np.testing.assert_allclose(pixel(data, i), want, atol=tol, err_msg=f"item {i}")
    skipped = sorted(os.path.basename(p) for p, _ in data.skipped)
    assert skipped == ["z_corrupt.png", "z_truncated.png"]  # notes.txt ignored, not skipped
    assert all(reason for _, reason in data.skipped)


def test_folder_default_resolution_crop_and_channels(tmp_path):
    d = tmp_path / "wide"
    d.mkdir()
    img = np.zeros((8, 24, 3), np.uint8)
    img[:, :8] = (255, 0, 0)
    img[:, 8:16] = (0, 255, 0)
    img[:, 16:] = (0, 0, 255)
    Image.fromarray(img).save(d / "wide.png")
    data = load(d)
    assert data.x.shape == (1, 3, 64, 64)  # 64 when resolution is 0
    # centre crop keeps only the green middle third
    assert torch.allclose(data.x[0, 1], torch.ones(64, 64), atol=0.02)
    assert torch.allclose(data.x[0, 0], -torch.ones(64, 64), atol=0.02)
    gray = load(d, resolution=4, channels=1)
    assert gray.x.shape == (1, 1, 4, 4)
    np.testing.assert_allclose(pixel(gray, 0), [0.587 * 255], atol=1.5)  # PIL luma of green


def test_grayscale_folder_gives_one_channel(tmp_path):
    d = tmp_path / "gray"
    d.mkdir()
    solid("L", (8, 8), 50).save(d / "a.png")
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(d / "b.png")
    gif = Image.new("P", (8, 8), 0)
    gif.putpalette([77, 77, 77] * 256)  # a palette of grays is grayscale
    gif.save(d / "c.gif")
    data = load(d, resolution=8)
    assert data.x.shape == (3, 1, 8, 8)
    np.testing.assert_allclose([pixel(data, i)[0] for i in range(3)], [50, 255, 77], atol=1)
    assert load(d, resolution=8, channels=3).x.shape == (3, 3, 8, 8)


def test_class_subfolders_give_labels(tmp_path):
    root = tmp_path / "classes"
    for name, n, value in (("cat", 12, 10), ("dog", 9, 200)):
        sub = root / name / "nested"
        sub.mkdir(parents=True)
        for i in range(n):  # 21 files: exercises the threaded decoder, order must hold
            solid("L", (6, 6), value + i).save(sub / f"{i:02d}.png")
    (root / ".DS_Store").write_bytes(b"\0")  # hidden files do not break class detection
    data = load(root, resolution=6)
    assert data.num_classes == 2
    assert data.y.tolist() == [0] * 12 + [1] * 9
    values = [pixel(data, i)[0] for i in range(21)]
    np.testing.assert_allclose(
        values, [10 + i for i in range(12)] + [200 + i for i in range(9)], atol=1e-4
    )
    unlabelled = load(root, resolution=6, labels=False)
    assert unlabelled.y is None and unlabelled.num_classes == 0 and len(unlabelled) == 21
    (root / "README.txt").write_text("credits")  # a non-image file keeps the classes
    assert load(root, resolution=6).y.tolist() == [0] * 12 + [1] * 9
    solid("L", (6, 6), 0).save(root / "loose.png")  # an image beside folders: no classes
    assert load(root, resolution=6).y is None


def test_empty_and_all_bad_folders_fail_clearly(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty: no image files found"):
        load(empty)
    (empty / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="ignored 1 other files"):
        load(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(DataError, match=r"bad: none of the 1 image files"):
        load(bad)


# ---------------------------------------------------------------------------- arrays


def test_npy_layouts_and_ranges(tmp_path):
    rng = np.random.default_rng(0)
    nhwc = rng.integers(0, 256, (5, 8, 6, 3), dtype=np.uint8)
    np.save(tmp_path / "nhwc.npy", nhwc)
    data = load(tmp_path / "nhwc.npy")
    assert data.x.shape == (5, 3, 8, 6)
    want = torch.from_numpy(nhwc).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.allclose(data.x, want, atol=1e-6)

    unit = rng.random((4, 3, 6, 6)).astype(np.float32)
    cases = {"unit": unit, "sym": unit * 2 - 1, "byte": unit * 255}
    for name, arr in cases.items():  # [0,1], [-1,1] and [0,255] floats, NCHW
        np.save(tmp_path / f"{name}.npy", arr)
        got = load(tmp_path / f"{name}.npy").x
        assert torch.allclose(got, torch.from_numpy(unit) * 2 - 1, atol=1e-5), name

    np.save(tmp_path / "nhw.npy", (unit[:, 0] * 255).astype(np.uint8))
    assert load(tmp_path / "nhw.npy").x.shape == (4, 1, 6, 6)
    assert load(tmp_path / "nhw.npy", resolution=3, channels=3).x.shape == (4, 3, 3, 3)

    rgba = np.zeros((2, 5, 5, 4), np.uint8)  # transparent black -> white
    np.save(tmp_path / "rgba.npy", rgba)
    assert torch.allclose(load(tmp_path / "rgba.npy").x, torch.ones(2, 3, 5, 5))


def test_npy_ambiguous_layout_and_bad_values(tmp_path):
    np.save(tmp_path / "amb.npy", np.zeros((4, 3, 5, 3), np.uint8))
    with pytest.raises(DataError, match=r"shape \(4, 3, 5, 3\).*transpose"):
        load(tmp_path / "amb.npy")
    np.save(tmp_path / "none.npy", np.zeros((4, 5, 6, 7), np.uint8))
    with pytest.raises(DataError, match="neither axis 1 nor axis 3"):
        load(tmp_path / "none.npy")
    np.save(tmp_path / "range.npy", np.full((2, 4, 4), 300.0))
    with pytest.raises(DataError, match=r"span \[300, 300\]"):
        load(tmp_path / "range.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="object arrays are refused"):
        load(tmp_path / "obj.npy")


def test_points_npy_unchanged(tmp_path):
    pts = np.random.default_rng(1).normal(size=(50, 3)) * 7
    np.save(tmp_path / "pts.npy", pts)
    data = load(tmp_path / "pts.npy")
    assert data.x.shape == (50, 3) and data.x.dtype == torch.float32
    assert torch.allclose(data.x, torch.from_numpy(pts).float())


def test_npz_keys_and_labels(tmp_path):
    x = np.zeros((6, 5, 5, 1), np.uint8)
    y = np.array([0, 1, 2, 0, 1, 4])
    np.savez(tmp_path / "a.npz", images=x, labels=y)
    data = load(tmp_path / "a.npz")
    assert data.x.shape == (6, 1, 5, 5)
    assert data.y.tolist() == y.tolist() and data.num_classes == 5
    np.savez(tmp_path / "b.npz", x[..., 0])  # arr_0, no labels
    assert load(tmp_path / "b.npz").y is None
    np.savez(tmp_path / "c.npz", pictures=x)
    with pytest.raises(DataError, match=r"found \['pictures'\]"):
        load(tmp_path / "c.npz")


# ---------------------------------------------------------------------------- MNIST IDX


def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX: magic 0x0000_08_<ndim> (uint8), big-endian uint32 dims, then the bytes."""
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_idx(folder, prefix, x, y, gz):
    suffix = ".gz" if gz else ""
    wr = (lambda p, b: p.write_bytes(gzip.compress(b))) if gz else (lambda p, b: p.write_bytes(b))
    wr(folder / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(x))
    wr(folder / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(y))
    return folder / f"{prefix}-images-idx3-ubyte{suffix}"


@pytest.mark.parametrize("gz,prefix", [(False, "train"), (True, "t10k")])
def test_idx_with_labels(tmp_path, gz, prefix):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    y = np.array([3, 1, 4, 1, 5, 9, 2])
    path = write_idx(tmp_path, prefix, x, y, gz)
    assert path.read_bytes()[:4] == (b"\x1f\x8b\x08\x00" if gz else b"\x00\x00\x08\x03")[:4]
    data = load(path)
    assert data.x.shape == (7, 1, 5, 4)
    assert torch.allclose(data.x[:, 0], torch.from_numpy(x).float() / 127.5 - 1)
    assert data.y.tolist() == y.tolist() and data.num_classes == 10


def test_idx_detected_by_magic_and_bad_files(tmp_path):
    x = np.ones((2, 3, 3), np.uint8)
    raw = idx_bytes(x)
    (tmp_path / "digits.bin").write_bytes(raw)  # no IDX-like name: detected by magic
    assert load(tmp_path / "digits.bin").x.shape == (2, 1, 3, 3)
    (tmp_path / "cut-images-idx3-ubyte").write_bytes(raw[:-4])
    with pytest.raises(DataError, match="truncated"):
        load(tmp_path / "cut-images-idx3-ubyte")
    (tmp_path / "magic").write_bytes(b"\x00\x00\x07\x03" + raw[4:])
    with pytest.raises(DataError, match="magic number 0x00000703"):
        read_idx(tmp_path / "magic")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(3)))
    with pytest.raises(DataError, match="labels file"):
        load(tmp_path / "train-labels-idx1-ubyte")


# ---------------------------------------------------------------------------- CIFAR


def fake_cifar_batch(n: int, seed: int, protocol: int = 2) -> tuple[bytes, np.ndarray]:
    """A batch like the real ones: protocol 2, bytes keys, (N, 3072) uint8 CHW rows."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": labels,
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    return pickle.dumps(batch, protocol=protocol), data


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar_batch(tmp_path, protocol):
    raw, data = fake_cifar_batch(5, 0, protocol)
    (tmp_path / "data_batch_1").write_bytes(raw)
    got = load(tmp_path / "data_batch_1")
    assert got.x.shape == (5, 3, 32, 32) and got.num_classes == 10
    # row layout is 1024 R values, then G, then B, each row-major 32x32
    want = torch.from_numpy(data.reshape(5, 3, 32, 32)).float() / 127.5 - 1
    assert torch.allclose(got.x, want)
    assert got.y.tolist() == pickle.loads(raw)[b"labels"]


def test_cifar_folder_loads_all_batches_in_order(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    parts = []
    for k in (2, 1, 10):
        raw, data = fake_cifar_batch(3, k)
        (folder / f"data_batch_{k}").write_bytes(raw)
        parts.append((k, data))
    (folder / "test_batch").write_bytes(fake_cifar_batch(4, 99)[0])
    (folder / "batches.meta").write_bytes(b"\x80\x02}q\x00.")
    got = load(folder)
    assert len(got) == 9  # data_batch_* only, numeric order 1, 2, 10
    first = torch.from_numpy(dict(parts)[1].reshape(3, 3, 32, 32)).float() / 127.5 - 1
    assert torch.allclose(got.x[:3], first)
    last = torch.from_numpy(dict(parts)[10].reshape(3, 3, 32, 32)).float() / 127.5 - 1
    assert torch.allclose(got.x[6:], last)


def _py2_str(b: bytes) -> bytes:
    """A Python 2 ``str`` opcode (SHORT_BINSTRING / BINSTRING), as cPickle wrote it."""
    return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b


def py2_cifar_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """The opcodes of a real CIFAR-10 batch (Python 2 cPickle, numpy 1.x, protocol 2):
    globals named numpy.core.multiarray, keys and raw pixels as Python 2 strings."""
    n, d = data.shape
    dtype = (
        b"cnumpy\ndtype\n" + _py2_str(b"u1") + b"K\x00K\x01\x87R"
        b"(K\x03" + _py2_str(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    arr = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        + _py2_str(b"b")
        + b"\x87R(K\x01J"
        + struct.pack("<i", n)
        + b"J"
        + struct.pack("<i", d)
        + b"\x86"
        + dtype
        + b"\x89"
        + _py2_str(data.tobytes())
        + b"tb"
    )
    labs = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(" + _py2_str(b"data") + arr + _py2_str(b"labels") + labs + b"u."


def test_cifar_python2_pickle(tmp_path):
    data = np.random.default_rng(3).integers(0, 256, (2, 3072), dtype=np.uint8)
    (tmp_path / "test_batch").write_bytes(py2_cifar_pickle(data, [3, 7]))
    got = load(tmp_path / "test_batch")
    assert got.y.tolist() == [3, 7]
    assert torch.allclose(got.x, torch.from_numpy(data.reshape(2, 3, 32, 32)).float() / 127.5 - 1)


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_evil_pickle_is_rejected_without_running(tmp_path):
    marker = tmp_path / "pwned"
    evil = {b"data": _Evil(f"touch {marker}"), b"labels": [0]}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError, match=r"refused to unpickle .*system is not allowed"):
        load(tmp_path / "data_batch_1")
    assert not marker.exists()
    # a bytes-decoding trick through _codecs.encode with another codec is refused too
    sneaky = b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\x06\x00\x00\x00rot_13\x86R."
    (tmp_path / "test_batch").write_bytes(sneaky)
    with pytest.raises(DataError, match="refused to unpickle"):
        load(tmp_path / "test_batch")


# ---------------------------------------------------------------------------- specs


def test_unknown_specs_list_the_choices(tmp_path):
    with pytest.raises(DataError, match=r"no/such/dir.*mnist5k.*ring8.*folder of images"):
        load("no/such/dir")
    with pytest.raises(DataError, match="empty"):
        load("")
    with pytest.raises(DataError, match="Did you mean 'mnist5k'"):
        load("mnist5")
    (tmp_path / "data.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match="unrecognised file type.*stacked_mnist"):
        load(tmp_path / "data.csv")
    solid("L", (4, 4), 0).save(tmp_path / "one.png")
    with pytest.raises(DataError, match="single image"):
        load(tmp_path / "one.png")


def test_to_model_range_leaves_float_input_alone():
    x = torch.rand(2, 3, 5, 7)
    before = x.clone()
    out = to_model_range(x, resolution=4)
    assert torch.equal(x, before) and out.shape == (2, 3, 4, 4)


# ---------------------------------------------------------------------------- built-ins


def test_ring8_modes():
    c = ring8_centers()
    angles = torch.atan2(c[:, 1], c[:, 0]).remainder(2 * math.pi).sort().values
    # 8 distinct modes, 2*pi/8 apart (linspace(0, 2*pi, 8) would merge the first and last)
    assert torch.allclose(angles.diff(), torch.full((7,), 2 * math.pi / 8), atol=1e-5)
    assert torch.allclose(c.norm(dim=1), torch.ones(8))
    data = load("ring8")
    assert data.num_classes == 8 and len(data.y.unique()) == 8
    resid = data.x - c[data.y]
    assert abs(resid.std().item() - 0.01) < 0.001


def test_grid25_centres():
    c = grid25_centers()
    want = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(p) for p in c.tolist()} == want
    data = load("grid25")
    assert data.num_classes == 25 and len(data.y.unique()) == 25
    assert abs((data.x - c[data.y]).std().item() - 0.05) < 0.005


def test_mnist5k():
    data = load("mnist5k")
    assert data.x.shape == (5000, 1, 28, 28)
    assert data.x.min() == -1 and data.x.max() == 1
    assert torch.bincount(data.y).tolist() == [500] * 10 and data.num_classes == 10


def test_stacked_mnist_label_formula():
    from ganforge.data.builtin import mnist5k_arrays

    x, y = stacked_mnist_arrays()
    assert x.shape == (25_600, 3, 28, 28) and x.dtype == np.uint8
    assert y.min() >= 0 and y.max() < 1000 and len(np.unique(y)) > 990
    digits, digit_labels = mnist5k_arrays()
    flat = digits.reshape(len(digits), -1)
    for i in range(0, 25_600, 2_560):
        found = []
        for ch in range(3):  # find the mnist5k digit in each channel
            j = np.flatnonzero((flat == x[i, ch].reshape(-1)).all(1))[0]
            found.append(int(digit_labels[j]))
        assert y[i] == 100 * found[0] + 10 * found[1] + found[2]
    x2, y2 = stacked_mnist_arrays()
    assert np.array_equal(x, x2) and np.array_equal(y, y2)  # fixed seed


def test_stacked_mnist_builtin():
    data = load("stacked_mnist")
    assert data.x.shape == (25_600, 3, 28, 28) and data.num_classes == 1000
    with pytest.raises(ValueError, match="channels"):
        load("stacked_mnist", channels=1)


def test_no_warning_for_clean_folder(tmp_path):
    solid("RGB", (5, 5), (1, 2, 3)).save(tmp_path / "a.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load(tmp_path, resolution=5)) == 1

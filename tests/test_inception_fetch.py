"""FID Inception weights fetched into the user cache, and clean-fid's input protocol.

The network never appears: a small stand-in file with its own sha256 is served from a
``file://`` URL or a localhost HTTP server (``GANFORGE_INCEPTION_URL`` and
``GANFORGE_INCEPTION_SHA256`` override the pinned ones); conftest sets GANFORGE_OFFLINE,
which the fetching tests lift with monkeypatch.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import metrics
from ganforge.core import cache
from ganforge.metrics import inception as inc

PAYLOAD = b"not really an Inception, but bytes with a known hash " * 100
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A stand-in weights file at a file:// URL, a private cache, fetching allowed."""
    src = tmp_path / "mirror" / "pt_inception.pth"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)
    monkeypatch.delenv(inc.INCEPTION_ENV, raising=False)
    monkeypatch.setenv(inc.INCEPTION_URL_ENV, src.as_uri())
    monkeypatch.setenv(inc.INCEPTION_SHA256_ENV, SHA)
    return src


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_fetch_from_a_file_url_into_the_cache(served, tmp_path):
    path = inc.resolve_inception_weights(progress=False)
    assert path == inc.inception_cache_path()
    assert path.parent == tmp_path / "cache" / "weights"
    assert path.name == f"pt_inception-2015-12-05-{SHA[:8]}.pth"
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(path.parent) == [path.name]  # no temporary file left behind
    assert inc.find_inception_weights() == path and inc.weights_sha256(path) == SHA


def test_the_pinned_file_is_pytorch_fids():
    # Without overrides the cache holds pytorch-fid's file under its own name.
    assert inc.INCEPTION_URL.endswith("/pt_inception-2015-12-05-6726825d.pth")
    assert inc.INCEPTION_SHA256.startswith("6726825d") and len(inc.INCEPTION_SHA256) == 64


def test_hash_mismatch_names_url_and_both_hashes_and_leaves_nothing(served, monkeypatch):
    wrong = "0" * 64
    monkeypatch.setenv(inc.INCEPTION_SHA256_ENV, wrong)
    with pytest.raises(FileNotFoundError) as e:
        inc.resolve_inception_weights(progress=False)
    msg = str(e.value)
    assert served.as_uri() in msg and wrong in msg and SHA in msg and "mismatch" in msg
    assert _leftovers(cache.cache_dir()) == []


def test_offline_message_says_what_to_download_and_where(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "c"))
    monkeypatch.delenv(inc.INCEPTION_ENV, raising=False)
    monkeypatch.delenv(inc.INCEPTION_URL_ENV, raising=False)
    monkeypatch.delenv(inc.INCEPTION_SHA256_ENV, raising=False)
    assert cache.offline()  # conftest
    with pytest.raises(FileNotFoundError) as e:
        inc.resolve_inception_weights()
    msg = str(e.value)
    assert inc.INCEPTION_URL in msg and "--inception-weights FILE" in msg
    assert str(inc.inception_cache_path()) in msg and "GANFORGE_OFFLINE" in msg
    assert not inc.inception_weights_obtainable()


def test_network_failure_says_what_to_do(served, monkeypatch, tmp_path):
    missing = (tmp_path / "nowhere.pth").as_uri()
    monkeypatch.setenv(inc.INCEPTION_URL_ENV, missing)
    with pytest.raises(FileNotFoundError, match="--inception-weights FILE") as e:
        inc.resolve_inception_weights(progress=False)
    assert missing in str(e.value) and "could not download" in str(e.value)


def test_cached_file_is_reused_without_fetching(served, monkeypatch):
    first = inc.resolve_inception_weights(progress=False)

    def no_fetch(*a, **k):
        raise AssertionError("fetched although the file is cached")

    monkeypatch.setattr(inc, "download", no_fetch)
    served.unlink()  # the mirror is gone: only the cache can answer
    assert inc.resolve_inception_weights() == first
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")  # offline is fine once cached
    assert inc.resolve_inception_weights() == first and inc.inception_weights_obtainable()


def test_http_download_streams_with_a_size_bound(tmp_path, monkeypatch):
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "w.pth").write_bytes(PAYLOAD)
    handler = functools.partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(tmp_path / "www"),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/w.pth"
        dest = tmp_path / "out" / "w.pth"
        assert cache.download(url, dest, sha256=SHA, max_bytes=10**6, progress=True) == dest
        assert dest.read_bytes() == PAYLOAD
        dest.unlink()
        with pytest.raises(cache.DownloadError, match="more than the 100 "):
            cache.download(url, dest, sha256=SHA, max_bytes=100, progress=False)
        assert _leftovers(tmp_path / "out") == []
        with pytest.raises(cache.DownloadError, match="could not download"):
            cache.download(url + "x", dest, sha256=SHA, max_bytes=10**6, progress=False)
    finally:
        server.shutdown()
        server.server_close()


# --- input protocol --------------------------------------------------------------------


def test_clean_resize_is_pil_bicubic_on_the_uint8_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 7, generator=g) * 2 - 1  # not on the uint8 grid
    got = inc.clean_resize(x)
    assert got.shape == (2, 3, 299, 299) and got.dtype == torch.float32
    u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    # Quantisation first: images already on the uint8 grid give the same input.
    assert torch.equal(inc.clean_resize(torch.from_numpy(u8).permute(0, 3, 1, 2) / 127.5 - 1), got)
    for i in range(2):
        for c in range(3):
            ref = Image.fromarray(u8[i, ..., c].astype(np.float32))  # mode "F"
            ref = np.clip(np.asarray(ref.resize((299, 299), Image.Resampling.BICUBIC)), 0, 255)
            np.testing.assert_allclose((got[i, c].numpy() + 1) * 127.5, ref, atol=2e-5)
    # On a smooth ramp (no bicubic overshoot to clip between PIL's two 8-bit passes) it is
    # within rounding (twice, in 8 bits) of PIL's own 8-bit RGB resize.
    ramp = torch.linspace(-1, 1, 9).expand(1, 3, 6, 9)
    u8 = ((ramp + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
    rgb = np.asarray(Image.fromarray(u8).resize((299, 299), Image.Resampling.BICUBIC))
    got = (inc.clean_resize(ramp)[0].permute(1, 2, 0).numpy() + 1) * 127.5
    assert np.abs(got - rgb).max() <= 1.0


def test_clean_resize_repeats_grey_and_the_network_takes_both_protocols():
    grey = torch.rand(1, 1, 4, 8) * 2 - 1
    out = inc.clean_resize(grey)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    assert torch.equal(inc.FIDInceptionV3().prepare(grey), out)
    legacy = inc.FIDInceptionV3(protocol="pytorchfid").prepare(grey)
    assert legacy.shape == out.shape and not torch.allclose(legacy, out)
    with pytest.raises(ValueError, match="clean, pytorchfid"):
        inc.FIDInceptionV3(protocol="tf")


# --- protocol names and records --------------------------------------------------------


def test_inception_protocol_names():
    m = metrics.resolve_metric("fid50k_inception")
    assert m.extractor == "inception_fid"
    legacy = metrics.resolve_metric("kid10k_inception_pytorchfid")
    assert legacy.extractor == "inception_fid_pytorchfid" and legacy.n == 10000


def test_every_score_records_its_protocol():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(40, 3, 8, 16, generator=g), torch.rand(40, 3, 8, 16, generator=g)
    r = metrics.evaluate(a * 2 - 1, ["fid40_randconv"], real=b * 2 - 1, progress=False)
    info = r["protocol"]["metrics"]["fid40_randconv"]
    assert info["extractor"] == "randconv_proxy" and info["weights"].startswith("random-init")
    assert "64x64" in info["resize"] and info["sampler"] == "data"
    assert info["n_fake"] == 40 and info["n_real"] == 40
    digits = torch.rand(20, 1, 28, 28, generator=g) * 2 - 1
    r = metrics.evaluate(digits, ["fid20_lenet"], real=digits.flip(0), progress=False)
    info = r["protocol"]["metrics"]["fid20_lenet"]
    assert len(info["weights"]) == 64 and "28x28" in info["resize"]


def test_fit_uses_inception_when_fetchable(monkeypatch, tmp_path):
    from ganforge.apps.fit import photo_extractor

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    monkeypatch.delenv(inc.INCEPTION_ENV, raising=False)
    assert photo_extractor() == "randconv"  # offline, nothing cached
    monkeypatch.delenv("GANFORGE_OFFLINE")
    assert photo_extractor() == "inception"
    assert photo_extractor("inception_pytorchfid") == "inception_pytorchfid"
    from ganforge.apps.fit import fitting_metrics
    from ganforge.data.base import TensorData

    photos = TensorData(torch.zeros(40, 3, 16, 16), None, "photos")
    names, notes = fitting_metrics(["fid5k_inception"], photos)
    assert names == ["fid40_inception"] and any(str(tmp_path) in n for n in notes)

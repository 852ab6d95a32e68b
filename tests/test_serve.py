"""The sampling server: endpoints against the generator itself, every 400, and the
explorer page in a headless browser."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.core.imaging import make_grid
from ganforge.core.registry import MODELS
from ganforge.ui.serve import make_server
from tests.browser import Browser


def _build(name: str, out_shape: tuple[int, ...], **kw: Any) -> torch.nn.Module:
    import ganforge.models  # noqa: F401  (registers the builders)

    torch.manual_seed(0)
    G, _ = MODELS.build(name, z_dim=8, out_shape=out_shape, **kw)
    return G.eval()


@pytest.fixture(scope="module")
def dcgan() -> torch.nn.Module:
    return _build("dcgan", (1, 28, 28), ngf=8, ndf=8)


class Served:
    def __init__(self, G: torch.nn.Module) -> None:
        self.G = G
        self.server = make_server(G, "127.0.0.1", 0, name="tiny", quiet=True)
        self.url = self.server.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        req = urllib.request.Request(self.url.rstrip("/") + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers["Content-Type"], r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers["Content-Type"], e.read()

    def png(self, path: str) -> np.ndarray:
        status, ctype, body = self.get(path)
        assert (status, ctype) == (200, "image/png"), body[:300]
        return np.asarray(Image.open(io.BytesIO(body)))

    def error(self, path: str, status: int = 400) -> dict[str, Any]:
        code, ctype, body = self.get(path)
        assert (code, ctype) == (status, "application/json"), body[:300]
        return json.loads(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def served(dcgan: torch.nn.Module) -> Iterator[Served]:
    s = Served(dcgan)
    yield s
    s.close()


def _served(G: torch.nn.Module) -> Iterator[Served]:
    s = Served(G)
    try:
        yield s
    finally:
        s.close()


# --------------------------------------------------------------------------- endpoints


def test_info(served: Served) -> None:
    status, ctype, body = served.get("/info")
    assert (status, ctype) == (200, "application/json")
    info = json.loads(body)
    assert info["z_dim"] == 8 and info["out_shape"] == [1, 28, 28]
    assert info["kind"] == "image" and info["controls"] == {}
    assert info["params"]["n"] == {"min": 1, "max": 64, "default": 16}


def test_sample_grid_is_the_generators_output(served: Served, dcgan: torch.nn.Module) -> None:
    arr = served.png("/sample.png?seed=3&n=4")
    # a 2x2 grid of 28-px images with 2-px padding, enlarged 4x (nearest)
    assert arr.shape == (62 * 4, 62 * 4)
    expected = make_grid(dcgan.sample(4, seed=3))[..., 0]
    np.testing.assert_array_equal(arr[::4, ::4], expected)
    assert (served.png("/sample.png?seed=3&n=4") == arr).all()  # deterministic
    assert not (served.png("/sample.png?seed=4&n=4") == arr).all()


def test_latent_image_matches_forward(served: Served, dcgan: torch.nn.Module) -> None:
    status, _, body = served.get("/z?seed=5")
    z = json.loads(body)["z"]
    assert len(z) == 8 and z == pytest.approx(dcgan.make_z(1, seed=5)[0].tolist())
    arr = served.png("/latent.png?z=" + ",".join(f"{v:.6f}" for v in z))
    assert arr.shape == (252, 252)  # one 28-px image, enlarged 9x
    with torch.no_grad():
        x = dcgan(torch.tensor([z]))
    expected = make_grid(x, padding=0)[..., 0]
    assert np.abs(arr[::9, ::9].astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("query", "param", "valid"),
    [
        ("/sample.png?n=0", "n", "[1, 64]"),
        ("/sample.png?n=65", "n", "[1, 64]"),
        ("/sample.png?n=2.5", "n", "[1, 64]"),
        ("/sample.png?seed=-1", "seed", "[0, 2147483647]"),
        ("/sample.png?seed=abc", "seed", "[0, 2147483647]"),
        ("/sample.png?seed=1&seed=2", "seed", ""),
        ("/sample.png?size=3", "size", "seed, n, truncation, class"),
        ("/sample.png?truncation=0.5", "truncation", "not supported"),
        ("/sample.png?class=1", "class", "not supported"),
        ("/latent.png", "z", "8 comma-separated"),
        ("/latent.png?z=1,2,3", "z", "8 comma-separated"),
        ("/latent.png?z=0,0,0,0,0,0,0,nan", "z", "[-20, 20]"),
        ("/latent.png?z=0,0,0,0,0,0,0,1e9", "z", "[-20, 20]"),
        ("/latent.png?z=0,0,0,0,0,0,0,x", "z", "[-20, 20]"),
        ("/z?seed=99999999999", "seed", "[0, 2147483647]"),
        ("/info?verbose=1", "verbose", "no parameters"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    served: Served, query: str, param: str, valid: str
) -> None:
    err = served.error(query)
    assert err["parameter"] == param
    assert valid in err["valid"]
    assert param in err["error"]


def test_unknown_path_and_long_url(served: Served) -> None:
    assert "/sample.png" in served.error("/nope", 404)["error"]
    assert "URL longer" in served.error("/latent.png?z=" + "0," * 20_000, 414)["error"]


def test_stylegan_truncation(tmp_path: Path) -> None:
    G = _build(
        "stylegan", (1, 16, 16), channel_base=128, channel_max=16, w_dim=16, mapping_layers=2
    )
    for s in _served(G):
        info = json.loads(s.get("/info")[2])
        assert info["controls"]["truncation"] == {"min": 0.0, "max": 2.0, "default": 1.0}
        # psi = 0 puts every w at w_avg: all four images are the same
        arr = s.png("/sample.png?seed=1&n=4&truncation=0")
        tiles = [arr[y : y + 18 * 8, x : x + 18 * 8] for y in (0, 144) for x in (0, 144)]
        assert all((t == tiles[0]).all() for t in tiles)
        assert not (s.png("/sample.png?seed=1&n=4&truncation=1") == arr).all()
        assert "[0, 2]" in s.error("/sample.png?truncation=3")["valid"]
        z = ",".join(["0.5"] * 8)
        assert s.png(f"/latent.png?z={z}&truncation=0.7").shape[:2] == (256, 256)


def test_conditional_class() -> None:
    G = _build("cgan", (1, 28, 28), ngf=8, ndf=8)
    for s in _served(G):
        info = json.loads(s.get("/info")[2])
        assert info["controls"]["class"] == {"min": 0, "max": 9} and info["z_dim"] == 18
        arr = s.png("/sample.png?seed=2&n=4&class=3")
        expected = make_grid(G.sample_class(4, 3, seed=2))[..., 0]
        np.testing.assert_array_equal(arr[::4, ::4], expected)
        assert "[0, 9]" in s.error("/sample.png?class=10")["valid"]
        # /latent.png's class replaces the latent's one-hot
        z = G.make_z(1, seed=0)
        a = s.png("/latent.png?z=" + ",".join(f"{v:.6f}" for v in z[0].tolist()) + "&class=7")
        z7 = z.clone()
        z7[0, 8:] = 0
        z7[0, 8 + 7] = 1
        with torch.no_grad():
            expected = make_grid(G(z7), padding=0)[..., 0]
        assert np.abs(a[::9, ::9].astype(int) - expected.astype(int)).max() <= 1


def test_points_model_scatter() -> None:
    G = _build("toy2d", (2,))
    for s in _served(G):
        info = json.loads(s.get("/info")[2])
        assert info["kind"] == "points" and info["params"]["n"]["max"] == 5000
        arr = s.png("/sample.png?seed=0&n=2000")
        assert arr.ndim == 3 and arr.shape[0] > 200  # a matplotlib figure
        assert s.png("/latent.png?z=" + ",".join(["0"] * 8)).ndim == 3
        assert s.error("/sample.png?n=5001")["parameter"] == "n"


def test_unsupported_modality_is_refused_at_start() -> None:
    G = _build("textgan", (16, 28))
    with pytest.raises(ValueError, match="ganforge sample"):
        make_server(G, port=0, quiet=True)


def test_serve_parser_defaults_to_localhost() -> None:
    from ganforge.cli import build_parser
    from ganforge.cli.serve import run

    argv = ["serve", "zoo:dcgan-mnist"]
    args = build_parser(argv).parse_args(argv)
    assert (args.host, args.port, args.func) == ("127.0.0.1", 8000, run)


# --------------------------------------------------------------------------- browser


def test_explorer_page_in_browser(served: Served, tmp_path: Path) -> None:
    """Sliders render, the image loads, moving a slider and randomising re-render it."""
    with Browser() as b:
        b.open(served.url, width=1200, height=900)
        b.wait_for("document.getElementById('latent').dataset.loaded === '1'")
        b.wait_for("document.getElementById('grid').dataset.loaded === '1'")
        assert b.evaluate("document.querySelectorAll('#dims input[type=range]').length") == 8
        assert b.evaluate("document.getElementById('latent').naturalWidth") == 252
        assert b.evaluate("document.getElementById('grid').naturalWidth") > 0
        first = b.evaluate("document.getElementById('latent').src")
        # the slider shows z[0] of seed 0 (the explorer's start)
        z0 = served.G.make_z(1, seed=0)[0, 0].item()
        assert float(b.evaluate("document.querySelector('#dims output').textContent")) == (
            pytest.approx(z0, abs=0.006)
        )
        b.evaluate(
            "(() => { const s = document.querySelector('#dims input'); s.value = 2.5;"
            " s.dispatchEvent(new Event('input')); })()"
        )
        b.wait_for(f"document.getElementById('latent').src !== {json.dumps(first)}")
        b.wait_for("document.getElementById('status').textContent.startsWith('rendered')")
        b.evaluate("document.getElementById('random').click()")
        b.wait_for("document.getElementById('seed').value !== '0'")
        b.screenshot(tmp_path / "explorer.png")
        assert b.errors == []


def test_requests_for_other_host_names_are_refused(served: Served) -> None:
    """DNS rebinding: a page served under an attacker's name that resolves to 127.0.0.1
    sends that name as Host; only localhost and the bound address are answered."""
    port = served.server.server_address[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
        code, _, body = served.get("/info", {"Host": host})
        assert code == 403 and b"localhost" in body, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert served.get("/info", {"Host": host})[0] == 200, host

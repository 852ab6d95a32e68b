"""A local sampling server and latent-space explorer: ``ganforge serve RUN_OR_ZOO``.

Standard library only (``http.server.ThreadingHTTPServer``), bound to 127.0.0.1 by
default. Endpoints (all ``GET``):

* ``/sample.png?seed=S&n=N[&truncation=PSI][&class=K]`` — a PNG grid of ``n`` samples
  (a scatter plot for 2-D point models);
* ``/latent.png?z=v0,v1,...[&truncation=PSI][&class=K]`` — the one item for latent ``z``
  (exactly ``z_dim`` finite numbers);
* ``/z?seed=S`` — the latent ``G.make_z(1, seed=S)`` as JSON (the explorer starts there);
* ``/info`` — JSON: model name, ``z_dim``, ``out_shape``, kind, supported controls and
  every parameter's valid range;
* ``/`` — the explorer page: sliders for the first latent dimensions, a seed box, a
  randomise button, truncation / class controls when the model has them; moving a slider
  re-renders the image (debounced).

Every parameter is validated: an unknown or repeated parameter, a non-number, a value
out of range, or a control the model does not support is answered with HTTP 400 and
``{"error": ..., "parameter": ..., "valid": ...}``. Request sizes are bounded (URL
length, ``n``, number of query fields), and one lock serialises the generator, so a
burst of slider requests queues instead of multiplying memory use.

The explorer follows the idea of the GAN latent-space demos (e.g. the "GAN Lab" and
StyleGAN's ``generate.py`` seeds): a seed picks a point, sliders move along its first
coordinates.
"""

from __future__ import annotations

import html
import inspect
import io
import json
import math
import re
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import torch

from ganforge.models.base import Generator

MAX_URL = 32_768  # a 512-d latent with 6 decimals is ~5 kB; anything far larger is abuse
MAX_FIELDS = 8
MAX_N_IMAGES = 64
MAX_N_POINTS = 5000
SEED_MAX = 2**31 - 1
Z_LIMIT = 20.0  # |z_i| bound: a standard normal never gets near it
TRUNCATION_RANGE = (0.0, 2.0)  # psi > 1 extrapolates away from the mean W; still valid
EXPLORER_DIMS = 16
#: Points drawn behind the highlighted latent on the 2-D explorer plot.
BACKGROUND_POINTS = 1500


class BadRequest(Exception):
    """A request parameter is invalid; becomes an HTTP 400 with a JSON body."""

    def __init__(self, message: str, parameter: str | None = None, valid: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter
        self.valid = valid

    def as_json(self) -> dict[str, Any]:
        return {"error": str(self), "parameter": self.parameter, "valid": self.valid}


# --------------------------------------------------------------------------- model


def model_kind(G: Generator) -> str:
    """``image`` (C, H, W), ``points`` (2,), or ``custom`` (the model writes its own PNG,
    e.g. WaveGAN's spectrograms)."""
    shape = tuple(G.out_shape)
    if len(shape) == 3:
        return "image"
    if shape == (2,):
        return "points"
    if ".png" in getattr(G, "sample_suffixes", ()) and hasattr(G, "write_samples"):
        return "custom"
    raise ValueError(
        f"ganforge serve shows images, 2-D points and models that draw their own PNG "
        f"(audio spectrograms); {type(G).__name__} with out_shape {shape} has none of "
        "these — use `ganforge sample` instead"
    )


def _accepts(fn: Any, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def supports_truncation(G: Generator) -> bool:
    """True for generators whose forward (and sample) take ``truncation_psi`` (StyleGAN)."""
    return _accepts(G.forward, "truncation_psi") and _accepts(G.sample, "truncation_psi")


def num_classes(G: Generator) -> int:
    """Number of classes of a class-conditional generator (one with ``sample_class``), else 0."""
    if not hasattr(G, "sample_class"):
        return 0
    return int(getattr(G, "num_classes", 0) or 0)


class Sampler:
    """What the endpoints compute, independent of HTTP (easy to test and reuse).

    Args:
        G: the generator (moved to eval mode).
        name: shown on the page and in ``/info`` (the run folder or zoo name).
    """

    def __init__(self, G: Generator, name: str = "") -> None:
        self.G = G.eval()
        self.kind = model_kind(G)
        model = getattr(getattr(G, "config", None), "model", None)
        self.name = str(name or getattr(model, "name", "") or type(G).__name__)
        self.truncation = supports_truncation(G)
        self.classes = num_classes(G)
        self.lock = threading.Lock()
        self._background: np.ndarray | None = None

    # ------------------------------------------------------------------ description
    @property
    def max_n(self) -> int:
        return MAX_N_POINTS if self.kind == "points" else MAX_N_IMAGES

    def info(self) -> dict[str, Any]:
        controls: dict[str, Any] = {}
        if self.truncation:
            lo, hi = TRUNCATION_RANGE
            controls["truncation"] = {"min": lo, "max": hi, "default": 1.0}
        if self.classes:
            controls["class"] = {"min": 0, "max": self.classes - 1}
        model = getattr(getattr(self.G, "config", None), "model", None)
        return {
            "name": self.name,
            "model": getattr(model, "name", type(self.G).__name__),
            "z_dim": self.G.z_dim,
            "out_shape": list(self.G.out_shape),
            "kind": self.kind,
            "step": getattr(self.G, "step", None),
            "controls": controls,
            "params": {
                "seed": {"min": 0, "max": SEED_MAX, "default": 0},
                "n": {"min": 1, "max": self.max_n, "default": self.default_n},
                "z": {"length": self.G.z_dim, "abs_max": Z_LIMIT},
            },
            "endpoints": ["/", "/info", "/sample.png", "/latent.png", "/z"],
        }

    @property
    def default_n(self) -> int:
        return 500 if self.kind == "points" else 16

    # ------------------------------------------------------------------ generation
    def _forward(self, z: torch.Tensor, psi: float | None) -> torch.Tensor:
        G = self.G
        with torch.no_grad():
            if hasattr(G, "mapping") and hasattr(G, "synthesis"):
                # StyleGAN: const noise so a latent always gives the same image, and no
                # w_avg update (as its sample() does)
                ws = G.mapping(
                    z.to(G.device),
                    truncation_psi=1.0 if psi is None else psi,
                    update_w_avg=False,
                )
                return G.synthesis(ws, noise_mode="const").float().cpu()
            return G(z.to(G.device)).float().cpu()

    def samples(
        self, n: int, seed: int, psi: float | None = None, class_id: int | None = None
    ) -> torch.Tensor:
        """(n, *out_shape) for ``seed``; fixed class / truncation when given."""
        with self.lock:
            if class_id is not None:
                return self.G.sample_class(n, class_id, seed=seed).float()  # type: ignore[attr-defined]
            if psi is not None:
                return self.G.sample(n, seed=seed, truncation_psi=psi).float()  # type: ignore[call-arg]
            return self.G.sample(n, seed=seed).float()

    def latent_item(
        self, z: list[float], psi: float | None = None, class_id: int | None = None
    ) -> torch.Tensor:
        """(1, *out_shape) for one latent; ``class_id`` overwrites the latent's one-hot."""
        zt = torch.tensor([z], dtype=torch.float32)
        if class_id is not None:
            spec = self.G.code("class")  # type: ignore[attr-defined]
            zt[:, spec.start : spec.start + spec.dim] = 0
            zt[:, spec.start + class_id] = 1
        with self.lock:
            return self._forward(zt, psi)

    def latent_of_seed(self, seed: int) -> list[float]:
        return [float(v) for v in self.G.make_z(1, seed=seed)[0]]

    # ------------------------------------------------------------------ PNG
    def png(self, x: torch.Tensor, *, single: bool = False, title: str = "") -> bytes:
        """Encode items (N, *out_shape) as PNG bytes: a grid, a scatter, or the model's own."""
        if self.kind == "image":
            from PIL import Image

            from ganforge.core.imaging import make_grid

            w = max(x.shape[-2:])  # the longer side, for non-square images too
            grid = make_grid(x.clamp(-1, 1), padding=0 if single else 2)
            img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
            scale = max(1, 256 // w) if single else max(1, 256 // w // 2)
            if scale > 1:
                img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            return buf.getvalue()
        if self.kind == "points":
            return self._scatter(x, highlight=single, title=title)
        with tempfile.TemporaryDirectory() as tmp:
            out = self.G.write_samples(x, Path(tmp) / "s.png")  # type: ignore[attr-defined]
            return Path(out).read_bytes()

    def _scatter(self, pts: torch.Tensor, *, highlight: bool, title: str) -> bytes:
        # the OO API (no pyplot): no global figure state shared between server threads
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.2, 4.2), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(111)
        p = pts.detach().float().cpu().numpy().reshape(-1, 2)
        if highlight:
            if self._background is None:
                with self.lock:
                    self._background = self.G.sample(BACKGROUND_POINTS, seed=0).numpy()
            bg = self._background
            ax.scatter(bg[:, 0], bg[:, 1], s=3, alpha=0.25, color="#9ca3af", label="samples")
            ax.scatter(p[:, 0], p[:, 1], s=90, color="#dc2626", marker="*", label="G(z)")
            ax.legend(loc="upper right", fontsize=8)
        else:
            ax.scatter(p[:, 0], p[:, 1], s=4, alpha=0.5, color="#2563eb")
        ax.set_aspect("equal", adjustable="datalim")
        if title:
            ax.set_title(title, fontsize=10)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


# --------------------------------------------------------------------------- parameters

_INT_RE = re.compile(r"^[+-]?\d{1,12}$")


def _query(query: str, allowed: tuple[str, ...], endpoint: str) -> dict[str, str]:
    try:
        raw = parse_qs(query, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as e:
        raise BadRequest(f"malformed query string: {e}", None, ", ".join(allowed)) from None
    out = {}
    for k, vs in raw.items():
        if k not in allowed:
            valid = ", ".join(allowed) if allowed else "no parameters"
            raise BadRequest(f"unknown parameter {k!r} for {endpoint}; valid: {valid}", k, valid)
        if len(vs) > 1:
            raise BadRequest(f"parameter {k!r} given {len(vs)} times; give it once", k)
        out[k] = vs[0]
    return out


def parse_int(params: dict[str, str], name: str, lo: int, hi: int, default: int | None) -> Any:
    """Integer parameter in [lo, hi] (``default`` when absent; None = required)."""
    valid = f"integer in [{lo}, {hi}]"
    if name not in params:
        if default is None:
            raise BadRequest(f"parameter {name!r} is required ({valid})", name, valid)
        return default
    v = params[name].strip()
    if not _INT_RE.match(v):
        raise BadRequest(f"{name} must be an {valid}, got {params[name]!r}", name, valid)
    i = int(v)
    if not lo <= i <= hi:
        raise BadRequest(f"{name} must be an {valid}, got {i}", name, valid)
    return i


def parse_float(params: dict[str, str], name: str, lo: float, hi: float) -> float | None:
    """Finite float parameter in [lo, hi], or None when absent."""
    valid = f"number in [{lo:g}, {hi:g}]"
    if name not in params:
        return None
    try:
        v = float(params[name])
    except ValueError:
        raise BadRequest(f"{name} must be a {valid}, got {params[name]!r}", name, valid) from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise BadRequest(f"{name} must be a {valid}, got {params[name]!r}", name, valid)
    return v


def parse_latent(text: str, z_dim: int) -> list[float]:
    """``v0,v1,...`` -> list of exactly ``z_dim`` finite floats with |v| <= Z_LIMIT."""
    valid = f"{z_dim} comma-separated numbers in [-{Z_LIMIT:g}, {Z_LIMIT:g}]"
    parts = text.split(",") if text.strip() else []
    if len(parts) != z_dim:
        raise BadRequest(f"z must have {z_dim} values (z_dim), got {len(parts)}", "z", valid)
    out = []
    for i, p in enumerate(parts):
        try:
            v = float(p)
        except ValueError:
            raise BadRequest(f"z[{i}] is not a number: {p[:20]!r}", "z", valid) from None
        if not (math.isfinite(v) and abs(v) <= Z_LIMIT):
            raise BadRequest(
                f"z[{i}] = {p[:20]} is outside [-{Z_LIMIT:g}, {Z_LIMIT:g}]", "z", valid
            )
        out.append(v)
    return out


# --------------------------------------------------------------------------- HTTP


class SamplingServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` holding a :class:`Sampler`; ``server_address`` gives the
    actual port when started with port 0."""

    daemon_threads = True
    sampler: Sampler
    quiet: bool = False

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def host_allowed(self, header: str | None) -> bool:
        """Whether a request's ``Host`` names this server: its bound address or localhost.

        A web page the user visits can make the browser send requests to 127.0.0.1 under a
        name its own attacker-run DNS points there (DNS rebinding); such requests carry
        that name in ``Host``, so they are refused. A server bound to every interface
        (0.0.0.0, ::) was opened to the network on purpose and answers any name.
        """
        bound = str(self.server_address[0])
        if bound in ("0.0.0.0", "::"):
            return True
        if not header:
            return False
        name = header.strip().lower()
        if name.startswith("["):  # [::1]:8000
            name = name[1 : name.find("]")] if "]" in name else name
        elif name.count(":") == 1:
            name = name.split(":")[0]
        return name in {bound.lower(), "localhost", "127.0.0.1", "::1"}


class _Handler(BaseHTTPRequestHandler):
    server: SamplingServer
    server_version = "ganforge-serve"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, "application/json", json.dumps(obj).encode())

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if not self.server.host_allowed(self.headers.get("Host")):
            self._json(
                HTTPStatus.FORBIDDEN,
                {"error": "this server answers requests for localhost or its own address only"},
            )
            return
        if len(self.path) > MAX_URL:
            self._json(
                HTTPStatus.REQUEST_URI_TOO_LONG,
                {"error": f"URL longer than {MAX_URL} characters", "parameter": None},
            )
            return
        url = urlsplit(self.path)
        routes = {
            "/": self._page,
            "/index.html": self._page,
            "/info": self._info,
            "/sample.png": self._sample,
            "/latent.png": self._latent,
            "/z": self._z,
        }
        route = routes.get(url.path)
        if route is None:
            self._json(
                HTTPStatus.NOT_FOUND,
                {"error": f"no endpoint {url.path}; valid: {', '.join(routes)}"},
            )
            return
        try:
            route(url.query)
        except BadRequest as e:
            self._json(HTTPStatus.BAD_REQUEST, e.as_json())
        except Exception as e:  # a model error must not kill the server thread silently
            self.log_error("error on %s: %r", self.path, e)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(e).__name__}: {e}"})

    # ------------------------------------------------------------------ endpoints
    def _controls(self, p: dict[str, str]) -> tuple[float | None, int | None]:
        s = self.server.sampler
        psi = cls = None
        if "truncation" in p:
            if not s.truncation:
                raise BadRequest(
                    f"{s.name} does not support truncation (only style-based models do)",
                    "truncation",
                    "not supported by this model",
                )
            psi = parse_float(p, "truncation", *TRUNCATION_RANGE)
        if "class" in p:
            if not s.classes:
                raise BadRequest(
                    f"{s.name} is not class-conditional; 'class' needs a cgan model",
                    "class",
                    "not supported by this model",
                )
            cls = parse_int(p, "class", 0, s.classes - 1, None)
        return psi, cls

    def _sample(self, query: str) -> None:
        s = self.server.sampler
        p = _query(query, ("seed", "n", "truncation", "class"), "/sample.png")
        seed = parse_int(p, "seed", 0, SEED_MAX, 0)
        n = parse_int(p, "n", 1, s.max_n, s.default_n)
        psi, cls = self._controls(p)
        x = s.samples(n, seed, psi, cls)
        self._send(HTTPStatus.OK, "image/png", s.png(x, title=f"seed {seed}, n={n}"))

    def _latent(self, query: str) -> None:
        s = self.server.sampler
        p = _query(query, ("z", "truncation", "class"), "/latent.png")
        if "z" not in p:
            raise BadRequest(
                "parameter 'z' is required", "z", f"{s.G.z_dim} comma-separated numbers"
            )
        z = parse_latent(p["z"], s.G.z_dim)
        psi, cls = self._controls(p)
        x = s.latent_item(z, psi, cls)
        self._send(HTTPStatus.OK, "image/png", s.png(x, single=True))

    def _z(self, query: str) -> None:
        s = self.server.sampler
        p = _query(query, ("seed",), "/z")
        seed = parse_int(p, "seed", 0, SEED_MAX, 0)
        self._json(HTTPStatus.OK, {"seed": seed, "z": s.latent_of_seed(seed)})

    def _info(self, query: str) -> None:
        _query(query, (), "/info")
        self._json(HTTPStatus.OK, self.server.sampler.info())

    def _page(self, query: str) -> None:
        _query(query, (), "/")
        body = explorer_html(self.server.sampler.info()).encode()
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", body)


def make_server(
    G: Generator, host: str = "127.0.0.1", port: int = 0, *, name: str = "", quiet: bool = False
) -> SamplingServer:
    """Build (not start) the server; ``port=0`` picks a free port (see ``server.url``).

    Start it with ``server.serve_forever()`` (e.g. in a thread) and stop it with
    ``server.shutdown(); server.server_close()``.
    """
    server = SamplingServer((host, port), _Handler)
    server.sampler = Sampler(G, name)
    server.quiet = quiet
    return server


# --------------------------------------------------------------------------- page

_PAGE_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#111827;background:#f3f4f6}
header{background:#111827;color:#f9fafb;padding:14px 24px}
header h1{margin:0;font-size:20px;font-weight:600}
header .sub{color:#9ca3af;font-size:13px}
main{display:grid;grid-template-columns:minmax(300px,430px) minmax(0,1fr);gap:18px;
 padding:18px 24px;max-width:1300px;margin:0 auto}
@media (max-width:860px){main{grid-template-columns:1fr}}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px}
h2{font-size:15px;margin:0 0 10px;font-weight:600}
.card h2+*{margin-top:0}
p+h2{margin-top:18px}
.view{display:flex;justify-content:center;align-items:center;background:#fafafa;
 border-radius:6px;min-height:300px}
.view img{width:100%;max-width:360px;image-rendering:pixelated;display:block}
.pts .view img{image-rendering:auto}
#status{font-size:12px;color:#6b7280;margin-top:8px;min-height:18px}
#status.err{color:#dc2626}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:10px 0}
.row label{font-size:13px;color:#374151}
input[type=number]{width:90px;padding:4px 6px;border:1px solid #d1d5db;border-radius:6px}
button,select{padding:5px 12px;border:1px solid #d1d5db;border-radius:6px;background:#fff;
 cursor:pointer;font:inherit}
button.primary{background:#2563eb;color:#fff;border-color:#2563eb}
.dims{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:6px 18px}
.dim{display:grid;grid-template-columns:44px 1fr 48px;align-items:center;gap:6px;
 font-variant-numeric:tabular-nums;font-size:12px}
.dim span:first-child{color:#6b7280}
.dim output{text-align:right}
input[type=range]{width:100%}
.grid img{width:100%;max-width:330px;image-rendering:pixelated;display:block;margin:0 auto}
.pts .grid img{image-rendering:auto}
.muted{color:#6b7280;font-size:12px}
"""

_PAGE_JS = r"""
(function(){
  var INFO=JSON.parse(document.getElementById('info').textContent);
  var K=Math.min(INFO.z_dim, DIMS);
  var z=new Array(INFO.z_dim).fill(0), seq=0, shown=0, timer=null, lastUrl=null;
  var img=document.getElementById('latent'), status=document.getElementById('status');
  var grid=document.getElementById('grid'), seedBox=document.getElementById('seed');
  var dims=document.getElementById('dims');
  var trunc=document.getElementById('truncation'), cls=document.getElementById('class');
  function setStatus(t,err){status.textContent=t;status.className=err?'err':'';}
  for(var i=0;i<K;i++){
    var d=document.createElement('div');d.className='dim';
    d.innerHTML='<span>z['+i+']</span><input type="range" min="-3" max="3" step="0.01" '+
      'data-i="'+i+'" aria-label="z['+i+']"><output>0.00</output>';
    dims.appendChild(d);
  }
  var sliders=dims.querySelectorAll('input[type=range]');
  function controlsQuery(){
    var q='';
    if(trunc)q+='&truncation='+Number(trunc.value).toFixed(2);
    if(cls&&cls.value!=='')q+='&class='+cls.value;
    return q;
  }
  function syncSliders(){
    sliders.forEach(function(s){var i=Number(s.dataset.i);s.value=z[i];
      s.nextElementSibling.textContent=z[i].toFixed(2);});
  }
  function fetchImage(url,target,done){
    // only the newest request may set the image: responses can arrive out of order
    var token=(target._token||0)+1;target._token=token;
    return fetch(url).then(function(r){
      if(!r.ok)return r.json().then(function(j){throw new Error(j.error||r.statusText);});
      return r.blob();
    }).then(function(b){
      if(token!==target._token)return;
      var u=URL.createObjectURL(b), old=target.dataset.blob;
      target.onload=function(){
        target.dataset.loaded='1';target.dataset.naturalWidth=target.naturalWidth;
        if(old)URL.revokeObjectURL(old);if(done)done();
      };
      target.dataset.blob=u;target.src=u;
    });
  }
  function render(){
    var my=++seq, t0=performance.now();
    var url='latent.png?z='+z.map(function(v){return v.toFixed(4);}).join(',')+controlsQuery();
    fetchImage(url,img,function(){
      if(my<shown)return;shown=my;
      setStatus('rendered in '+Math.round(performance.now()-t0)+' ms');
    }).catch(function(e){setStatus(e.message,true);});
  }
  function schedule(){clearTimeout(timer);timer=setTimeout(render,60);}
  function renderGrid(){
    var s=Number(seedBox.value)||0;
    fetchImage('sample.png?seed='+s+'&n='+(INFO.kind==='points'?1000:16)+controlsQuery(),grid)
      .catch(function(e){setStatus(e.message,true);});
  }
  function loadSeed(s){
    seedBox.value=s;
    return fetch('z?seed='+s).then(function(r){
      if(!r.ok)return r.json().then(function(j){throw new Error(j.error);});
      return r.json();
    }).then(function(j){z=j.z;syncSliders();render();renderGrid();})
      .catch(function(e){setStatus(e.message,true);});
  }
  sliders.forEach(function(s){s.addEventListener('input',function(){
    var i=Number(s.dataset.i);z[i]=Number(s.value);
    s.nextElementSibling.textContent=z[i].toFixed(2);schedule();});});
  document.getElementById('go').addEventListener('click',function(){loadSeed(Number(seedBox.value)||0);});
  seedBox.addEventListener('change',function(){loadSeed(Number(seedBox.value)||0);});
  document.getElementById('random').addEventListener('click',function(){
    loadSeed(Math.floor(Math.random()*100000));});
  document.getElementById('zero').addEventListener('click',function(){
    for(var i=0;i<K;i++)z[i]=0;syncSliders();render();});
  if(trunc)trunc.addEventListener('input',function(){
    document.getElementById('trunc-out').textContent=Number(trunc.value).toFixed(2);
    schedule();clearTimeout(window._gt);window._gt=setTimeout(renderGrid,250);});
  if(cls)cls.addEventListener('change',function(){render();renderGrid();});
  loadSeed(0);
})();
"""


def explorer_html(info: dict[str, Any]) -> str:
    """The explorer page (inline CSS/JS, no network beyond this server)."""
    k = min(info["z_dim"], EXPLORER_DIMS)
    extra = []
    tr = info["controls"].get("truncation")
    if tr:
        extra.append(
            f'<div class="row"><label for="truncation">truncation ψ</label>'
            f'<input type="range" id="truncation" min="{tr["min"]}" max="{min(tr["max"], 1.5)}" '
            f'step="0.05" value="1"><output id="trunc-out">1.00</output></div>'
        )
    cl = info["controls"].get("class")
    if cl:
        opts = "".join(f'<option value="{i}">{i}</option>' for i in range(cl["max"] + 1))
        extra.append(
            f'<div class="row"><label for="class">class</label><select id="class">'
            f'<option value="">from latent</option>{opts}</select></div>'
        )
    step = f" · step {info['step']:,}" if isinstance(info.get("step"), int) else ""
    shape = "×".join(str(s) for s in info["out_shape"])
    info_json = json.dumps(info).replace("</", "<\\/")
    kind_cls = "pts" if info["kind"] == "points" else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(info["name"])} — latent explorer</title>
<link rel="icon" href="data:,">
<style>{_PAGE_CSS}</style></head>
<body class="{kind_cls}">
<header><h1>Latent explorer — {html.escape(info["name"])}</h1>
<div class="sub">{html.escape(str(info["model"]))} · z_dim {info["z_dim"]} · output {shape}{step}
</div>
</header>
<main>
<section class="card"><h2>G(z)</h2>
<div class="view"><img id="latent" alt="generated from the current latent"></div>
<div id="status">loading…</div>
<div class="row"><label for="seed">seed</label><input type="number" id="seed" min="0"
 max="{SEED_MAX}" value="0"><button id="go">load</button>
<button id="random" class="primary">randomise</button>
<button id="zero" title="set the slider dimensions to 0">zero</button></div>
{"".join(extra)}
</section>
<section class="card"><h2>First {k} of {info["z_dim"]} latent dimensions</h2>
<div id="dims" class="dims"></div>
<p class="muted">The other dimensions keep the seed's values. Drag a slider to move
through latent space; the image re-renders as you go.</p>
<h2>Samples for this seed</h2>
<div class="grid"><img id="grid" alt="sample grid for the seed"></div>
</section>
</main>
<script type="application/json" id="info">{info_json}</script>
<script>var DIMS={EXPLORER_DIMS};{_PAGE_JS}</script>
</body></html>
"""

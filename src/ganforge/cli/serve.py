"""``ganforge serve RUN``: a local HTTP server that samples the generator, with a latent
explorer page at http://127.0.0.1:PORT (see :mod:`ganforge.ui.serve`)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help=help_text, description=__doc__)
    p.add_argument("run", help="run folder, checkpoint, exported folder or zoo:NAME")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--device", default="cpu", help="device for the generator (default cpu)")
    p.add_argument("--quiet", action="store_true", help="do not log every request")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.hub.load import load_generator
    from ganforge.ui.serve import make_server

    G = load_generator(args.run, device=args.device)
    server = make_server(G, args.host, args.port, name=str(args.run), quiet=args.quiet)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: serving on {args.host}: anyone who can reach this machine can use "
            "the generator (there is no authentication)",
            file=sys.stderr,
        )
    print(f"serving {args.run} at {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

"""Serve one bundle built by `relay models build` with the model server `relay serve` runs.

    python -m relayml.serve.bundle BUNDLE_DIR [--host 127.0.0.1] [--port 8000] [--workers N]
                                              [--log-dir DIR] [--no-access-log] [--auth]

The same routes and answers as `relay serve MODEL/VERSION`: Open Inference Protocol V2
(``/v2/models/{name}/infer``, metadata, health), ``/predict`` with prediction ids, the same input
checks and error shape, micro-batching, ``/metrics``. The bundle has no store: its one model is
served as a single live variant and never reloaded. Every file the manifest lists is checked
against its sha256 before the model loads; the server refuses to start when one differs.

The prediction log is off unless ``--log-dir`` names a folder (or an fsspec URL): predictions,
requests and outcomes are then written there as Parquet, in the layout of the artifact store's
logs (``DIR/predictions/project=P/deployment=NAME-vN/date=D/``).

``--auth`` (or ``RELAY_SERVE_AUTH=true``) requires tokens as ``relay serve --auth`` does. A bundle
has no store of its own, so the tokens are checked against the database ``RELAY_DATABASE_URL``
names (the platform's, where `relay tokens create` wrote them); without one the server refuses
to start rather than serve openly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relayml.backend import prediction_logs
from relayml.config import get_settings
from relayml.errors import RelayError
from relayml.serve.runner import ModelServer, open_token_check, run_model_server
from relayml.serving.sources import BundleSource

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m relayml.serve.bundle",
        description="Serve a model bundle built by `relay models build` (the `relay serve` "
        "model server, on the bundle's one model).",
    )
    parser.add_argument("bundle", type=Path, help="the bundle directory (holds relay-bundle.json)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the port (default 1)"
    )
    parser.add_argument(
        "--log-dir",
        default=None,
        help="write the prediction, request and outcome logs (Parquet) under this folder or "
        "fsspec URL; without it nothing is logged and POST .../outcomes is refused",
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one JSON line per request on stderr (default: on)",
    )
    parser.add_argument(
        "--auth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="require a personal API token (scope predict or api), checked against the "
        "database RELAY_DATABASE_URL names (default: RELAY_SERVE_AUTH)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Check and load the bundle, then serve it until interrupted; 1 if it cannot be served."""
    args = _parser().parse_args(argv)
    if args.workers < 1:
        print("Error: --workers must be 1 or more.", file=sys.stderr)
        return 2
    settings = get_settings()
    auth = settings.serve_auth if args.auth is None else args.auth
    try:
        if auth:  # refuse now, before loading or forking, when no store can check the tokens
            open_token_check(settings).store.dispose()
        source = BundleSource(args.bundle)
        logs = None
        if args.log_dir is not None:
            url = args.log_dir if "://" in args.log_dir else str(Path(args.log_dir).absolute())
            logs = prediction_logs(get_settings(artifacts_url=url))

        def build() -> ModelServer:
            check = open_token_check(settings) if auth else None
            server = ModelServer.from_source(
                settings, source, [source.ref], logs, access_log=args.access_log, auth=check
            )
            server.runtime.load()
            return server

        # With --workers N each worker builds its own server after the fork: loading adapts the
        # model in memory (see LoadedVariant), so no server is built from it before the fork.
        first = build() if args.workers == 1 else None
    except RelayError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    flavor = source.manifest["flavor"]
    print(f"relay bundle {args.bundle}: {source.ref} ({flavor}, project {source.project})")
    where = f"prediction log in {logs.root}" if logs is not None else "no prediction log"
    if auth:
        where += ", tokens required"
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"Listening on http://{shown}:{args.port} ({args.workers} worker(s), {where}).", flush=True
    )
    if first is not None:
        run_model_server(lambda: first, args.host, args.port, 1)
    else:
        run_model_server(build, args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

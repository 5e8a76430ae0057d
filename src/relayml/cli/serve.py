"""`relay serve`: run a model server for one or more models."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from relayml.cli._common import ProjectOption, console, project_or_default, settings

__all__ = ["serve"]


def serve(
    refs: Annotated[
        list[str],
        typer.Argument(
            help="What to serve: churn@production (its deployment: canary, A/B, shadow, or the "
            "alias), or a pinned version churn/3. Several models may share a server.",
            show_default=False,
        ),
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every one).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes sharing the port (each loads the models).")
    ] = 1,
    project: ProjectOption = None,
    prediction_log: Annotated[
        bool,
        typer.Option(
            "--prediction-log/--no-prediction-log",
            help="Log inputs, outputs, variant and latency of every prediction to Parquet.",
        ),
    ] = True,
    access_log: Annotated[
        bool,
        typer.Option("--access-log/--no-access-log", help="One JSON line per request on stderr."),
    ] = True,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Log a request's predictions at the time its X-Relay-Time header gives "
            "(epoch ms or ISO 8601), for replaying past traffic into the monitoring windows; "
            "without it the header is refused.",
        ),
    ] = False,
    auth: Annotated[
        bool | None,
        typer.Option(
            "--auth/--no-auth",
            help="Require a personal API token (scope predict or api) on every route but "
            "health, readiness and /metrics; outcomes also need the outcomes.write role. "
            "Default: RELAY_SERVE_AUTH.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve models over HTTP: Open Inference Protocol V2, POST /predict, /metrics.

    Endpoints: POST /predict (one record or {"instances": [...]}), POST
    /v2/models/NAME/infer, POST /v2/models/NAME/outcomes, GET /v2/health/ready, GET /metrics,
    GET /openapi.json. A deployment changed with `relay deploy` is picked up without a restart.
    With --auth, callers send `Authorization: Bearer <token>` (`relay tokens create --scope
    predict`); tokens are checked against the store's users.

    Examples:
      relay serve churn@production --port 8000
      relay serve churn/3 --no-prediction-log
      relay serve churn@production fraud@production --workers 2
      relay serve churn@production --auth --host 0.0.0.0
      relay serve churn@production --replay
    """
    from relayml.serve.runner import ModelServer, run_model_server
    from relayml.transport import open_backend

    current = settings()
    chosen = project_or_default(project)
    backend = open_backend(current)
    logs = prediction_log if workers == 1 else False
    first = ModelServer(
        current, backend, chosen, refs, prediction_log=logs, access_log=access_log, auth=auth,
        replay=replay,
    )  # fmt: skip
    try:
        first.runtime.load()  # fails here, clearly, on a bad reference or a model that won't load
    except BaseException:
        first.close()
        raise
    out = console()
    shown = f"[{host}]" if ":" in host else host
    for line in first.runtime.describe():
        out.print(f"relay serve: {line}")
    if first.auth is not None:
        out.print("relay serve: auth on: every route but health and /metrics needs a token")
    elif host not in ("127.0.0.1", "localhost", "::1"):
        out.print(f"relay serve: auth off: anyone who reaches {host} may call the models (--auth)")
    out.print(f"Listening on http://{shown}:{port} ({workers} worker(s)). Press Ctrl-C to stop.")
    sys.stdout.flush()
    if workers == 1:
        run_model_server(lambda: first, host, port, 1)
        return
    first.close()
    backend.close()

    def build() -> ModelServer:
        server = ModelServer(
            current,
            open_backend(current),
            chosen,
            refs,
            prediction_log=prediction_log,
            access_log=access_log,
            auth=auth,
            replay=replay,
        )
        server.runtime.load()
        return server

    run_model_server(build, host, port, workers)

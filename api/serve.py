"""`aftersales serve`: the production server — gunicorn with worker processes.

Each worker imports and builds the app after the fork, so each owns its own
durable-rules hosts and database connections (durable-rules state must never be
shared across processes). Metrics are aggregated across workers through
prometheus-client's multiprocess mode.
"""
from __future__ import annotations

import sys

from gunicorn.app.base import BaseApplication

from .settings import Settings, SettingsError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
GUNICORN_LIMITS = {
    # The request line up to gunicorn's maximum, so that a URI over the app's own limit
    # (api.routes.MAX_URI) reaches the app and gets a problem+json 414. What gunicorn still
    # refuses itself (a request line over 8190 bytes: 414; a header over 8190 bytes or more
    # than 100 headers: 431; a malformed request: 400) it answers with its own small HTML
    # page and closes the connection: it never reaches the app, which cannot shape it.
    "limit_request_line": 8190,
    # gunicorn 25+ opens a control socket at one fixed path per user ($XDG_RUNTIME_DIR or
    # ~/.gunicorn/gunicorn.ctl), shared by every instance of that user: two servers would
    # take it from each other, and whoever reaches it can stop or resize this one. Unused here.
    "control_socket_disable": True,
}


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from api import create_app
        return create_app()


def _child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def serve(host: str, port: int, workers: int, threads: int = 4) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"aftersales serve: {e}", file=sys.stderr)
        return 2
    if settings.open_access and host not in LOOPBACK:
        print(f"no API tokens configured (AFTERSALES_TOKENS / AFTERSALES_CONFIG): binding to 127.0.0.1, not {host}",
              file=sys.stderr)
        host = "127.0.0.1"
    elif settings.open_access:
        print("no API tokens configured: open access, loopback only", file=sys.stderr)
    database = settings.database_url.split("@")[-1] if settings.database_url else f"sqlite {settings.var_dir}/decisions.db"
    url = f"http://{host}:{port}"
    if settings.development:
        print(f"development mode: each saved change of {settings.rules_dir}/ becomes the active release, without review")
        if not settings.open_access:
            print("warning: development mode with API tokens: anyone who can write the rules folder changes the "
                  "policy; production servers run without AFTERSALES_MODE=development", file=sys.stderr)
    else:
        print(f"production mode: the active release in the database serves ({settings.rules_dir}/ is imported "
              "only into an empty database); change it with `aftersales release`")
    print(f"aftersales on {url} with {workers} workers (database: {database})")
    print(f"try: curl -s {url}/v1/decisions/warranty -H 'Content-Type: application/json' "
          f"-d @examples/warranty/request.json")
    sys.stdout.flush()
    _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": threads,
               "timeout": 30, "graceful_timeout": 10, "child_exit": _child_exit, "accesslog": None,
               "errorlog": "-", "loglevel": "warning", **GUNICORN_LIMITS}).run()
    return 0

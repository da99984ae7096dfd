"""`aftersales`: evaluate cases, list rule sets, run rule tests, check rule files, measure the
impact of an edit, explain why a rule did not decide, serve the API, take rule releases through
their review (a client of the service), replay logged decisions.

Exit codes: 0 fine, 1 tests failed / findings, 2 invalid case (or usage), 3 rules error.
"""
from __future__ import annotations

import sys

import click

from engine.errors import RulesError

from .check import check
from .common import fail_rules
from .decide import eval_, explain, rulesets
from .export import export
from .impact import impact_
from .release import release
from .replay import replay
from .ruletest import test
from .sheet import sheet


class _Commands(click.Group):
    """The commands in the order they are added, each listed with its whole help line; a command
    returns its exit code."""

    def add_command(self, cmd, name=None):
        cmd.short_help = cmd.short_help or cmd.help
        super().add_command(cmd, name)

    def list_commands(self, ctx):
        return list(self.commands)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RulesError as e:
            return fail_rules(e.problems)
        except BrokenPipeError:  # `aftersales eval … | head`: the reader left; not an error of ours
            sys.stderr.close()
            return 0


@click.group(cls=_Commands, help="After-sales decisions from YAML rule sets",
             context_settings={"help_option_names": ["-h", "--help"]})
def commands():
    pass


@click.command(help="run the decision API (gunicorn, one durable-rules host per worker)")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=8080)
@click.option("--workers", type=int, default=2)
def serve(host, port, workers) -> int:
    # prometheus-client picks its multiprocess mode when the metrics are created, i.e. when
    # the api package is imported: the folder must be set before that import.
    import os
    import shutil
    from pathlib import Path
    metrics_dir = Path(os.environ.get("AFTERSALES_VAR", "var")) / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    from api.serve import serve as run
    return run(host, port, workers)


for _command in (eval_, rulesets, check, test, impact_, explain, serve, release, replay, export, sheet):
    commands.add_command(_command)


def main(argv=None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); returns the exit code."""
    try:
        return commands.main(args=argv, prog_name="aftersales", standalone_mode=False)
    except click.ClickException as e:  # a usage error: exit 2, as argparse did
        e.show()
        return e.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 130

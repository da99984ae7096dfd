"""The `aftersales` command itself (aftersales/cli.py): its commands, usage errors, `python -m aftersales`.
Each command's behaviour is tested with the module it drives (test_check, test_impact, test_whynot, …)."""
import subprocess
import sys

from aftersales.cli import main

from tests.conftest import ROOT

COMMANDS = ["eval", "rulesets", "check", "test", "impact", "explain", "serve", "release", "replay", "export", "sheet"]


def test_help_lists_every_command_with_its_help_line(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out[out.index("Commands:"):].splitlines()[1:]
              if line.startswith("  ") and not line.startswith("   ")]
    assert listed == COMMANDS
    assert "decide one case and print the decision as JSON" in out
    assert main(["impact", "-h"]) == 0
    assert "--no-progress" in capsys.readouterr().out


def test_a_usage_error_exits_2_with_the_reason_on_stderr(capsys):
    assert main(["eval", "warranty"]) == 2
    assert "Missing argument 'CASE'" in capsys.readouterr().err
    assert main(["check", "--format", "xml"]) == 2
    assert "'xml' is not one of 'text', 'json'" in capsys.readouterr().err
    assert main([]) == 2  # no command: the help, as a usage error


def test_python_m_aftersales_runs_the_command():
    p = subprocess.run([sys.executable, "-m", "aftersales", "rulesets", "--rules", str(ROOT / "rules")],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "warranty" in [line.split()[0] for line in p.stdout.splitlines()]

"""The ``cipmodel`` group: ``--version``, the commands by name, and the entry point.

Commands are registered as ``"module:attribute"`` and imported when they are used (click's
"lazily loading subcommands" pattern), so ``cipmodel validate`` never imports the Monte
Carlo. ``cipmodel --help`` builds every command for its one-line help, which is cheap: the
command modules import only click and light modules at module level, and the library inside
each command. Errors are mapped once, in :mod:`cipmodel.cli.errors`.

No traceback reaches a user: a cipmodel error is a located message and exit code 2, and
:func:`main` turns anything unexpected into one line and exit code 1 (set
``CIPMODEL_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from typing import Any, TextIO

import click

from cipmodel.cli.errors import EXIT_PIPE, mapped_errors, quiet_closed_pipe
from cipmodel.version import __version__

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]

#: Command name -> ``"module:attribute"`` of the click command, imported on first use.
COMMANDS: dict[str, str] = {
    "demo": "cipmodel.cli.demo:demo",
    "portfolio": "cipmodel.cli.portfolio:portfolio",
    "report": "cipmodel.cli.report:report",
    "run": "cipmodel.cli.plan:run",
    "score": "cipmodel.cli.score:score",
    "simulate": "cipmodel.cli.simulate:simulate",
    "solve": "cipmodel.cli.plan:solve",
    "template": "cipmodel.cli.plan:template",
    "validate": "cipmodel.cli.plan:validate",
}


class LazyGroup(click.Group):
    """A click group whose commands are imported by name when first needed.

    Its own invocation goes through the same error mapping as every command.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(self._import(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _import(self, cmd_name: str) -> click.Command:
        module, _, attribute = self.lazy_commands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            msg = f"{self.lazy_commands[cmd_name]} is not a click command"
            raise TypeError(msg)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        with mapped_errors(ctx):
            return super().invoke(ctx)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="cipmodel")
def cli() -> None:
    """Control totals, CIPs, STF/PSF funding and the SOF finance score for NHS trusts.

    Money is £000; rates are fractions in JSON and percentages on screen.
    """


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning from a library (numpy, scipy) as the tool's own one line on stderr, without
    the library's file, line and source."""
    text = " ".join(str(message).split())
    with contextlib.suppress(OSError, ValueError):  # stderr closed
        click.echo(f"cipmodel: note: {text} ({category.__name__})", err=True)


def main() -> None:
    """Console entry point: run the CLI; an unexpected error gives one line, not a traceback;
    a library warning is one line; a closed output pipe ends quietly."""
    warnings.showwarning = _one_line_warning
    try:
        cli.main(prog_name="cipmodel", standalone_mode=True)
    except SystemExit:
        raise
    except BrokenPipeError:
        quiet_closed_pipe()
        sys.exit(EXIT_PIPE)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if os.environ.get("CIPMODEL_DEBUG") == "1":
            raise
        click.echo(
            f"cipmodel: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in cipmodel; set CIPMODEL_DEBUG=1 to see the details.",
            err=True,
        )
        sys.exit(1)

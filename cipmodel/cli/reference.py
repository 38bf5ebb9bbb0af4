"""The command-line reference (``docs/cli.md``), generated from every command's ``--help``."""

from __future__ import annotations

import click

from cipmodel.cli.app import cli

__all__ = ["cli_reference"]


def cli_reference() -> str:
    """The CLI reference (``docs/cli.md``), generated from every command's ``--help``.

    ``tests/test_project_files.py`` fails if the committed file differs; regenerate with
    ``python -c "from cipmodel.cli.reference import cli_reference; print(cli_reference(), end='')" > docs/cli.md``.
    """
    out = [
        "# Command-line reference",
        "",
        "Generated from `cipmodel --help` — do not edit by hand.",
        "",
    ]
    ctx = click.Context(
        cli,
        info_name="cipmodel",
        terminal_width=100,
        max_content_width=100,
        help_option_names=["-h", "--help"],
    )
    out += ["```", cli.get_help(ctx), "```", ""]
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name  # every listed command can be built
        sub = click.Context(
            cmd, info_name=name, parent=ctx, terminal_width=100, max_content_width=100
        )
        out += [f"## cipmodel {name}", "", "```", cmd.get_help(sub), "```", ""]
    return "\n".join(out)

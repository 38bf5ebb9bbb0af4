"""The command line's one error mapping: cipmodel errors become a message and exit code 2.

* :class:`~cipmodel.errors.ValidationError`: every problem with its place, on stderr;
* any other :class:`~cipmodel.errors.CipModelError` or an :class:`OSError`: ``Error: ...``
  on stderr.

Both exit with code 2 (:data:`EXIT_DATA`); no traceback reaches a user. Every command is a
:class:`Command`, so the mapping holds when a command is invoked on its own (as the tests do)
as well as through the ``cipmodel`` group, which applies the same mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from cipmodel.errors import CipModelError, ValidationError

__all__ = ["EXIT_DATA", "Command", "mapped_errors"]

#: Exit code for bad data, a refused file or an unreadable rule pack.
EXIT_DATA = 2


@contextmanager
def mapped_errors(ctx: click.Context) -> Iterator[None]:
    """Turn a cipmodel error or an OSError raised inside into a message and exit code 2."""
    try:
        yield
    except ValidationError as exc:
        click.echo(str(exc), err=True)
        ctx.exit(EXIT_DATA)
    except CipModelError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(EXIT_DATA)
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        click.echo(f"Error:{where}: {exc.strerror or exc}", err=True)
        ctx.exit(EXIT_DATA)


class Command(click.Command):
    """A click command whose cipmodel errors go through :func:`mapped_errors`."""

    def invoke(self, ctx: click.Context) -> Any:
        with mapped_errors(ctx):
            return super().invoke(ctx)

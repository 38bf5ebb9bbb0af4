"""The command line's one error mapping: cipmodel errors become a message and exit code 2.

* :class:`~cipmodel.errors.ValidationError`: every problem with its place, on stderr;
* any other :class:`~cipmodel.errors.CipModelError` or an :class:`OSError`: ``Error: ...``
  on stderr.

Both exit with code 2 (:data:`EXIT_DATA`); no traceback reaches a user. A reader that
closes the pipe early (``cipmodel run PLAN --json | head -1``) ends the command quietly:
nothing on stderr, exit code 141 (:data:`EXIT_PIPE`, as a shell reports SIGPIPE). Every command is a
:class:`Command`, so the mapping holds when a command is invoked on its own (as the tests do)
as well as through the ``cipmodel`` group, which applies the same mapping.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from cipmodel.errors import CipModelError, ValidationError

__all__ = ["EXIT_DATA", "EXIT_PIPE", "Command", "mapped_errors", "quiet_closed_pipe"]

#: Exit code for bad data, a refused file or an unreadable rule pack.
EXIT_DATA = 2
#: Exit code when the reader of the output closed the pipe (128 + SIGPIPE).
EXIT_PIPE = 141


def quiet_closed_pipe() -> None:
    """Point stdout at the null device, so that the flush at exit of output nobody reads
    any more raises nothing ("Exception ignored ... BrokenPipeError")."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no real stdout (tests)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextmanager
def mapped_errors(ctx: click.Context) -> Iterator[None]:
    """Turn a cipmodel error or an OSError raised inside into a message and exit code 2."""
    try:
        yield
    except BrokenPipeError:
        quiet_closed_pipe()
        ctx.exit(EXIT_PIPE)
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

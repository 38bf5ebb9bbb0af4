"""The ``cipmodel`` command line."""

from cipmodel.cli.main import cli, main

__all__ = ["cli", "main"]

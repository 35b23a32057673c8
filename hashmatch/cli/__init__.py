"""The command line (typer + rich): the only package that imports them."""

from hashmatch.cli.app import ExitCode, app, main

__all__ = ["ExitCode", "app", "main"]

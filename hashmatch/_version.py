"""The package version, kept in one place (read by pyproject and by reports)."""

__version__ = "0.1.0"

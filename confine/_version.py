"""The version of confine, in one place (read by the package, the CLI and run records)."""

__version__ = "0.1.0"

"""The package version, in a module of its own so modules imported by ``telemetry/__init__``
can read it while the package itself is still initialising."""

__version__ = "0.1.0"

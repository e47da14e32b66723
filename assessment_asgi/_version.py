"""The package version, in a leaf module so that any module may read it without a circle."""

__version__ = "0.2.0"
"""The installed version of `assessment-asgi` (the one source the build reads too)."""

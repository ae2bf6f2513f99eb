"""tracker: follow amendments to public procurement notices."""

__version__ = "0.1.0"

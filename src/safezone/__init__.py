"""SafeZone: one system for a police station's safety zones."""

__version__ = "0.1.0"

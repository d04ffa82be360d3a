"""casehub: the shared package of the hub (command line, settings, logging, local broker, process supervision)."""

__version__ = "0.1.0"

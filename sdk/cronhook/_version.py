"""The SDK's version. It is cronhook's version (the server's ``app/version.py``), written
here too because the SDK imports nothing of the server; a test keeps the two equal, and the
SDK's ``pyproject.toml`` reads this one."""

__version__ = "0.2.0"

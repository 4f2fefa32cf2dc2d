"""cronhook's version: the one place it is written.

The server package's metadata reads it (``pyproject.toml``: dynamic version), and so do
``cronhook --version``, the webhook ``User-Agent`` and ``cronhook_build_info``. The SDK
(``sdk/cronhook/_version.py``) and ``openapi.yaml``'s ``info.version`` carry the same
string; ``tests/unit/test_version.py`` fails when they differ.
"""

__version__ = "0.2.0"

"""What many test files share: the model id, the weather tool, SSE fixture files, and fixtures.

``tests`` is on ``sys.path`` (``pythonpath`` in pyproject), so test files say
``from _support import MODEL, WEATHER_TOOL``. Shared pytest fixtures live in `tests/conftest.py`.
"""

from __future__ import annotations

from ._data import FIXTURES, MODEL, WEATHER_TOOL, get_weather, read_sse

__all__ = ["FIXTURES", "MODEL", "WEATHER_TOOL", "get_weather", "read_sse"]

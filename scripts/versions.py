"""Print the Python and dependency versions of this environment (one line, for test logs)."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("httpx", "pydantic", "langchain-core", "llama-index-core", "httpx-aiohttp", "redis")


def main() -> None:
    """One line: ``Python 3.10.13: httpx 0.27.0, pydantic 2.11.5, ...``."""
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    print(f"Python {platform.python_version()}: " + ", ".join(found))


if __name__ == "__main__":
    main()

"""`ClientPair`: what an adapter holds, the blocking and async clients of one configuration."""

from __future__ import annotations

import httpx

from .client import AsyncModelsLabClient, ModelsLabClient
from .config import ClientConfig

__all__ = ["ClientPair"]


class ClientPair:
    """The blocking and the async client of one `ClientConfig`, each built on first use.

    Injected httpx clients are used as given and never closed here. An adapter whose settings
    change builds a new pair; pickling drops the clients (they are rebuilt on use).
    """

    __slots__ = ("_aio", "_async_http", "_http", "_sync", "config")

    def __init__(
        self,
        config: ClientConfig,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self._http = http_client
        self._async_http = async_http_client
        self._sync: ModelsLabClient | None = None
        self._aio: AsyncModelsLabClient | None = None

    @property
    def sync(self) -> ModelsLabClient:
        """The blocking client."""
        if self._sync is None:
            self._sync = ModelsLabClient(self.config, http_client=self._http)
        return self._sync

    @property
    def aio(self) -> AsyncModelsLabClient:
        """The async client (one httpx client per event loop)."""
        if self._aio is None:
            self._aio = AsyncModelsLabClient(self.config, http_client=self._async_http)
        return self._aio

    def __repr__(self) -> str:
        return f"ClientPair(base_url={self.config.base_url!r}, dialect={self.config.dialect!r})"

    def __getstate__(self) -> dict[str, object]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

"""What the real-server tests share: the server's values, repeatable sampling, the request
recorder (notebooks/_local.py's `WireLog`) and the booking schema the extraction tests use."""

from __future__ import annotations

from typing import Any, Literal, get_args

from _local import SEED  # notebooks/ is on the path (conftest.py)
from _local import WireLog as Recorder
from pydantic import BaseModel, Field

__all__ = [
    "BOOKING_TEXT",
    "REPEATABLE",
    "SEED",
    "Booking",
    "Recorder",
    "assert_booking",
    "chat_model",
    "server_values",
]

REPEATABLE: dict[str, Any] = {"temperature": 0.0, "seed": SEED}
"""Greedy decoding: with the server's one slot and no prompt cache, the same request gives the
same answer on every run (scripts/llama_server.py, ``REPEATABLE_FLAGS``). ``seed`` goes where
the route has the field (``/chat/completions``); the server's default seed is the same."""

Day = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
BOOKING_TEXT = "Morag Campbell will cross on Saturday with one other adult and her bicycle."


class Booking(BaseModel):
    """A ferry booking request."""

    name: str = Field(description="the traveller's name")
    day: Day = Field(description="the day of travel")
    adults: int = Field(ge=1, description="number of adults")
    bicycle: bool = Field(description="whether a bicycle comes along")


def assert_booking(value: Any) -> Booking:
    """``value`` is a `Booking` whose fields have their schema's types and enum values."""
    assert isinstance(value, Booking), value
    assert isinstance(value.name, str) and value.name.strip()
    assert value.day in get_args(Day)
    assert type(value.adults) is int and value.adults >= 1
    assert type(value.bicycle) is bool
    return value


def server_values(server: Any) -> dict[str, str]:
    """``{"base_url", "api_key", "model"}`` of the running local server."""
    return {"base_url": server.base_url, "api_key": server.api_key, "model": server.model}


def chat_model(server: Any, dialect: str, recorder: Recorder, **extra: Any) -> Any:
    """A greedy `ChatModelsLab` on the local server whose HTTP clients are ``recorder``'s."""
    from langchain_modelslab import ChatModelsLab

    values = server_values(server)
    return ChatModelsLab(
        model=values["model"],
        api_key=values["api_key"],
        base_url=values["base_url"],
        dialect=dialect,
        timeout=180,
        http_client=recorder.client,
        http_async_client=recorder.async_client,
        **{"max_tokens": 64, **REPEATABLE, **extra},
    )

"""The fast path of `ModelsLab`: LlamaIndex's LLM callbacks, skipped when nobody observes them.

`llm_chat_callback` and `llm_completion_callback` (llama-index-core) wrap every call in a
`CallbackManager` trace with start and end events, and fire one pydantic event (with a uuid
and a timestamp) per streamed chunk: about 10 us per chunk, a third of a stream's cost, spent
whether or not any handler listens. `chat_callback` and `completion_callback` decide per call:
when the LLM's `CallbackManager` has a handler (e.g. `TokenCountingHandler`) or a non-null
event handler sits on the dispatcher chain those callbacks report to (the root dispatcher
included), the call runs through LlamaIndex's own decorator, unchanged: every event and
callback as before. Otherwise the method runs directly (the ``rate_limiter`` still applies),
since there is no one to tell. Spans (`DispatcherSpanMixin`) are untouched either way.

Private names of llama-index-core this path relies on (``tests/test_layout.py`` resolves each,
and fails when llama-index-core renames or removes one; ``tests/llama_index/test_li_hot_path.py``
checks that observed calls still report every event):

- ``llama_index.core.llms.callbacks.dispatcher.event_handlers``
- ``llama_index.core.llms.callbacks.dispatcher.propagate``
- ``llama_index.core.llms.callbacks.dispatcher.parent_name``
- ``llama_index.core.llms.callbacks.dispatcher.manager.dispatchers``
- ``llama_index.core.instrumentation.event_handlers.NullEventHandler``
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from llama_index.core.callbacks import CallbackManager
from llama_index.core.instrumentation.event_handlers import NullEventHandler
from llama_index.core.llms import callbacks as _callbacks

__all__ = ["chat_callback", "completion_callback", "completion_method", "is_observed"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _has_event_handlers(dispatcher: Any) -> bool:
    """Whether an event fired on ``dispatcher`` reaches a handler that is not a null one."""
    current = dispatcher
    while current is not None:
        if any(not isinstance(h, NullEventHandler) for h in current.event_handlers):
            return True
        if not current.propagate or current.manager is None:
            return False
        current = current.manager.dispatchers.get(current.parent_name)
    return False


def is_observed(llm: Any) -> bool:
    """Whether a callback handler or an event handler would see ``llm``'s calls."""
    manager = getattr(llm, "callback_manager", None)
    if isinstance(manager, CallbackManager) and manager.handlers:
        return True
    return _has_event_handlers(_callbacks.dispatcher)


def _like(wrapper: Any, f: Callable[..., Any], signature: inspect.Signature) -> Any:
    """``wrapper`` named, documented and signed like ``f``.

    Not `functools.wraps`: LlamaIndex's decorators set ``f.__wrapped__ = True`` (their
    "already decorated" flag), which a ``__wrapped__`` chain would make `inspect.signature`
    (as called by every span) follow into ``True`` and fail.
    """
    for name in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
        setattr(wrapper, name, getattr(f, name))
    wrapper.__signature__ = signature
    return wrapper


def _skip_when_unobserved(f: Callable[..., Any], decorate: Callable[..., Any]) -> Any:
    """A method that runs ``decorate(f)`` if anyone observes the call, else ``f`` itself."""
    signature = inspect.signature(f)
    observed = decorate(f)
    if inspect.iscoroutinefunction(f):

        async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
            if is_observed(self):
                return await observed(self, *args, **kwargs)
            limiter = getattr(self, "rate_limiter", None)  # llama-index-core >= 0.14.16
            if limiter is not None:
                await limiter.async_acquire()
            return await f(self, *args, **kwargs)

        return _like(acall, f, signature)

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if is_observed(self):
            return observed(self, *args, **kwargs)
        limiter = getattr(self, "rate_limiter", None)
        if limiter is not None:
            limiter.acquire()
        return f(self, *args, **kwargs)

    return _like(call, f, signature)


def chat_callback(f: _F) -> _F:
    """`llm_chat_callback()`, run only when someone observes the call (see the module doc)."""
    wrapped: _F = _skip_when_unobserved(f, _callbacks.llm_chat_callback())
    return wrapped


def completion_callback(f: _F) -> _F:
    """`llm_completion_callback()`, run only when someone observes the call."""
    wrapped: _F = _skip_when_unobserved(f, _callbacks.llm_completion_callback())
    return wrapped


def completion_method(convert: Callable[..., Any], chat: str, *, is_async: bool = False) -> Any:
    """A ``complete``-style method: LlamaIndex's ``convert`` decorator (e.g.
    ``chat_to_completion_decorator``) over the undecorated chat method named ``chat`` (so each
    call is reported once), under `completion_callback`."""
    if is_async:

        async def acall(self: Any, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            return await convert(getattr(self, chat))(prompt, **kwargs)

        method = acall
    else:

        def call(self: Any, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            return convert(getattr(self, chat))(prompt, **kwargs)

        method = call
    method.__name__ = method.__qualname__ = convert.__name__.replace(
        "_to_completion_decorator", ""
    ).replace("chat", "complete")
    method.__doc__ = (
        f"``{method.__name__}`` of ``prompt`` (sent as one user message), through ``{chat}``."
    )
    return completion_callback(method)

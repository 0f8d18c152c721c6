"""A local stand-in for ModelsLab's LLM API, for testing apps offline.

```python
from langchain_modelslab import ChatModelsLab
from modelslab_core.testing import Fault, StandIn

with StandIn(api_key="test-key") as srv:
    srv.enqueue(Fault.status(429, retry_after=0.1))  # the next request is rate limited
    llm = ChatModelsLab(base_url=srv.base_url, api_key="test-key")
    print(llm.invoke("Say hello").text)  # retried, then answered
    #> hello
    print(len(srv.requests), srv.requests[-1].path)
    #> 2 /api/v7/llm/chat/completions
```

Routes (under ``/api/v7/llm``): ``POST /chat/completions`` (OpenAI shape),
``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` (Anthropic shape),
``GET /v1/models``. Replies are deterministic and follow the request (see ``_replies``).
Tokens are whitespace-separated words; prompt tokens (usage and ``count_tokens``) count the
system prompt, every message and each offered tool's JSON (name, description, schema).
"""

from __future__ import annotations

from ._faults import Fault, Reply
from ._handler import DEFAULT_MODELS, RecordedRequest
from ._redis import RedisServer, find_redis_server
from ._server import Billed, StandIn

__all__ = [
    "DEFAULT_MODELS",
    "Billed",
    "Fault",
    "RecordedRequest",
    "RedisServer",
    "Reply",
    "StandIn",
    "find_redis_server",
]

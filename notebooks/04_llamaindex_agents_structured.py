# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ModelsLab in LlamaIndex: agents and structured output
#
# A `FunctionAgent` with tools, an agent that remembers earlier runs, `structured_predict`
# and `as_structured_llm`. The basics and RAG are in
# [03_llamaindex_rag](03_llamaindex_rag.ipynb).
#
# The outputs shown come from a run on the small local model (`make llama-server`,
# Qwen2.5-Coder-0.5B-Instruct on a CPU): it gets facts wrong; the point here is the API.
#
# ## Setup
#
# ```bash
# pip install -U "modelslab-integrations[llama-index]"
# ```
#
# Set `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL` for another server than ModelsLab's).

# %%
import os

if not os.environ.get("MODELSLAB_API_KEY"):
    print("Set MODELSLAB_API_KEY, or point MODELSLAB_BASE_URL and a key at the local model (`make llama-server` prints them) or the offline stand-in (`python -m modelslab_core.testing`)")

# %% [markdown]
# ## The LLM and the tools
#
# Greedy (temperature 0, a seed), so every run gives the same answers. Plain functions become
# tools: their signatures are the schemas, their docstrings the descriptions.

# %%
from llama_index_modelslab import ModelsLab, track_costs

MODEL = os.environ.get("MODELSLAB_MODEL", "meta-llama-llama-3.2-3b-instruct")
llm = ModelsLab(model=MODEL, temperature=0, max_tokens=64, additional_kwargs={"seed": 42})
llm.list_models()  # the server's /v1/models facts (the context window) join the catalog


def ferry_fare(adults: int, children: int) -> str:
    """Price in pounds of return ferry tickets to the Isle of Corran for a group."""
    return f"{14 * adults + 7 * children} pounds"


def tour_times(day: str) -> str:
    """Lighthouse tour times on the Isle of Corran for a day of the week."""
    return "no tours" if day.strip().lower() in ("monday", "tuesday") else "11:00 and 14:00"


# %% [markdown]
# ## Agents
#
# `initial_tool_choice="required"` makes the first step a tool call; the events show each call
# and its result as the agent works. `track_costs` counts the requests and tokens of the run.

# %%
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult

agent = FunctionAgent(
    tools=[ferry_fare, tour_times],
    llm=llm,
    system_prompt="You help visitors to the Isle of Corran. Use the tools, answer briefly.",
    initial_tool_choice="required",
    early_stopping_method="generate",  # after max_iterations: answer, don't raise
)
with track_costs() as usage:
    handler = agent.run("How much are ferry tickets for 2 adults and 2 children?", max_iterations=2)
    agent_calls = []
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            agent_calls.append(event)
            print(f"tool {event.tool_name}({event.tool_kwargs}) -> {event.tool_output}")
    result = await handler
print("answer:", result)
print(f"{usage.requests_sent} requests: {usage.prompt_llm_token_count} prompt + {usage.completion_llm_token_count} completion tokens")

# %% [markdown]
# ### Memory
#
# An agent remembers earlier runs when each run is given the same `memory` (a `Context` alone
# does not carry it: llama-index-workflows leaves the memory out when it serializes the context
# between runs, with an `UnserializableKeyWarning`).

# %%
from llama_index.core.memory import Memory

chat_agent = FunctionAgent(tools=[], llm=llm, system_prompt="You are a friendly assistant.")
memory = Memory.from_defaults(session_id="visitor", token_limit=4000)
await chat_agent.run("My name is Morag.", memory=memory)
remembered = await chat_agent.run("What did I say my name was?", memory=memory)
print(remembered)

# %% [markdown]
# ## Structured output
#
# `structured_predict` takes a pydantic class and a prompt template and returns an instance.
# By default the class is offered as a tool the model must call
# (`structured_output_mode="function_calling"`); `"json_schema"` sends it as a
# `response_format` instead. Either way the server constrains the answer to the schema.

# %%
from typing import Literal

from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel, Field

Day = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class Booking(BaseModel):
    """A ferry booking request."""

    name: str = Field(description="the traveller's name")
    day: Day = Field(description="the day of travel")
    adults: int = Field(ge=1, description="number of adults")


prompt = PromptTemplate("Extract the ferry booking from this message: {text}")
text = "Hello, Morag Campbell here. Two adults would like to cross on Saturday."
found = {}
for mode in ("function_calling", "json_schema"):
    structured_llm = llm.model_copy(update={"structured_output_mode": mode})
    found[mode] = structured_llm.structured_predict(Booking, prompt, text=text)
    print(f"{mode:17} {found[mode]!r}")

# %% [markdown]
# ### Async and streaming
#
# `astructured_predict` is the async twin; `stream_structured_predict` yields partial objects
# as the JSON arrives.

# %%
booking = await llm.astructured_predict(Booking, prompt, text="Ewan, 1 adult, Tuesday please.")
print(repr(booking))

partials = list(llm.stream_structured_predict(Booking, prompt, text=text))
print(f"{len(partials)} partial objects, the last:", repr(partials[-1]))

# %% [markdown]
# ### Structured LLMs
#
# `as_structured_llm` wraps the LLM so that every `chat` or `complete` returns the object (in
# `.raw`) and its JSON (as the text).

# %%
from llama_index.core.llms import ChatMessage

sllm = llm.as_structured_llm(Booking)
structured_response = sllm.chat([ChatMessage(role="user", content=f"Extract the booking: {text}")])
print(type(structured_response.raw).__name__, repr(structured_response.raw))
print(structured_response.message.content)

# %% [markdown]
# ## The other wire dialect
#
# The same kind of agent over the Anthropic-compatible `/v1/messages`.

# %%
anthropic_llm = ModelsLab(model=MODEL, temperature=0, max_tokens=64, dialect="anthropic")
tour_agent = FunctionAgent(
    tools=[tour_times],
    llm=anthropic_llm,
    initial_tool_choice="required",
    system_prompt="Use the tool, then answer briefly.",
    early_stopping_method="generate",
)
handler = tour_agent.run("When are the lighthouse tours on Sunday?", max_iterations=2)
tour_calls = [event async for event in handler.stream_events() if isinstance(event, ToolCallResult)]
print(await handler)
print([(event.tool_name, event.tool_kwargs, str(event.tool_output)) for event in tour_calls])

# %% [markdown]
# ## API reference
#
# `help(ModelsLab)` documents every parameter; LlamaIndex's agent and structured output guides
# apply as written.

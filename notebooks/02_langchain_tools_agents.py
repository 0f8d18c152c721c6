# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ChatModelsLab: tools, agents and structured output
#
# `bind_tools`, a tool loop written by hand, LangChain's `create_agent`, and
# `with_structured_output` with each of its three methods. Chat basics (invocation, streaming,
# async, token usage) are in [01_langchain_quickstart](01_langchain_quickstart.ipynb).
#
# The outputs shown come from a run on the small local model (`make llama-server`,
# Qwen2.5-Coder-0.5B-Instruct on a CPU): it gets facts wrong; the point here is the API.
#
# ## Setup
#
# Set `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL` for another server than ModelsLab's) and
# install the LangChain extra plus `langchain` for its agents:
#
# ```bash
# pip install -U "modelslab-integrations[langchain]" langchain
# ```

# %%
import os

if not os.environ.get("MODELSLAB_API_KEY"):
    print("Set MODELSLAB_API_KEY, or point MODELSLAB_BASE_URL and a key at the local model (`make llama-server` prints them) or the offline stand-in (`python -m modelslab_core.testing`)")

# %% [markdown]
# ## Instantiation
#
# Greedy (temperature 0, a seed) so that every run gives the same answers. The tools are plain
# functions; `@tool` turns each into a LangChain tool whose schema comes from its signature and
# docstring.

# %%
from langchain_core.tools import tool

from langchain_modelslab import ChatModelsLab

llm = ChatModelsLab(
    model=os.environ.get("MODELSLAB_MODEL", "meta-llama-llama-3.2-3b-instruct"),
    temperature=0,
    seed=42,
    max_tokens=64,
)


@tool
def ferry_fare(adults: int, children: int) -> str:
    """Price in pounds of return ferry tickets to the Isle of Corran for a group."""
    return f"{14 * adults + 7 * children} pounds"


@tool
def tour_times(day: str) -> str:
    """Lighthouse tour times on the Isle of Corran for a day of the week."""
    closed = day.strip().lower() in ("monday", "tuesday")
    return "no tours" if closed else "11:00 and 14:00"


tools = {t.name: t for t in (ferry_fare, tour_times)}

# %% [markdown]
# ## Tool calling
#
# `bind_tools` sends the tools' JSON schemas with every request. `tool_choice="required"` makes
# the model call one; with `"auto"` (the default) it decides. The calls come back parsed, in
# `tool_calls`.

# %%
with_tools = llm.bind_tools(list(tools.values()), tool_choice="required")
fare_call = with_tools.invoke("How much are ferry tickets for 2 adults and 1 child?")
print(fare_call.tool_calls)
print(fare_call.usage_metadata)

# %% [markdown]
# ## A tool loop by hand
#
# Run each requested tool, send its result back as a `ToolMessage`, and ask again until the
# model answers in text. At the step limit, ask for the answer in a user turn without tools (a
# small model tends to call the tool again instead of answering).

# %%
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

conversation = [
    SystemMessage("Use the tools to answer. Be brief."),
    HumanMessage("When are the lighthouse tours on Saturday?"),
]
step_model = llm.bind_tools(list(tools.values()), tool_choice="required")
loop_calls, loop_results = [], []
for step in range(2):
    reply = step_model.invoke(conversation)
    conversation.append(reply)
    if not reply.tool_calls:
        break
    for call in reply.tool_calls:
        result = tools[call["name"]].invoke(call["args"])
        loop_calls.append(call)
        loop_results.append(result)
        print(f"step {step}: {call['name']}({call['args']}) -> {result}")
        conversation.append(ToolMessage(result, tool_call_id=call["id"]))
    step_model = llm.bind_tools(list(tools.values()))  # from now on the model may answer
else:
    conversation.append(HumanMessage("Answer my question from the tool results."))
    reply = llm.invoke(conversation)  # out of steps: answer without tools
print("answer:", reply.content)

# %% [markdown]
# ## Agents
#
# LangChain's `create_agent` runs the same loop as a graph; `stream_mode="updates"` shows each
# step. `recursion_limit` bounds the steps: a model that keeps calling tools is stopped with
# `GraphRecursionError` instead of looping forever.

# %%
from langchain.agents import create_agent
from langgraph.errors import GraphRecursionError

agent = create_agent(llm, tools=list(tools.values()), system_prompt="Use the tools, then answer briefly.")
question = {"messages": [{"role": "user", "content": "What do tickets cost for 3 adults and no children?"}]}
steps = []
try:
    for update in agent.stream(question, config={"recursion_limit": 4}, stream_mode="updates"):
        for node, change in update.items():
            for message in (change or {}).get("messages", []):
                steps.append(message)
                print(f"{node}: {type(message).__name__}: {message.content or message.tool_calls}")
    stopped_by_limit = False
except GraphRecursionError:
    stopped_by_limit = True
    print("stopped: the model kept calling tools until the step limit")

# %% [markdown]
# ## Structured output
#
# `with_structured_output(schema, method=...)` returns objects of the schema:
#
# - `function_calling` (the default): the schema becomes a tool the model must call;
# - `json_schema`: `response_format` with the schema (the server constrains the output);
# - `json_mode`: `response_format: json_object`; the prompt has to name the keys.
#
# `include_raw=True` also returns the raw message, and any parsing error instead of raising it.

# %%
from typing import Literal

from pydantic import BaseModel, Field

Day = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class Booking(BaseModel):
    """A ferry booking request."""

    name: str = Field(description="the traveller's name")
    day: Day = Field(description="the day of travel")
    adults: int = Field(ge=1, description="number of adults")


text = "Hello, Morag Campbell here. Two adults would like to cross on Saturday."
extracted = {}
for method in ("function_calling", "json_schema", "json_mode"):
    extractor = llm.with_structured_output(Booking, method=method, include_raw=True)
    extracted[method] = extractor.invoke(f"Extract the booking as JSON with keys name, day and adults: {text}")
    print(f"{method:17} {extracted[method]['parsed']!r}")

# %% [markdown]
# ## API reference
#
# `help(ChatModelsLab.bind_tools)` and `help(ChatModelsLab.with_structured_output)` document
# every option; LangChain's own guides on tool calling, agents and structured output apply
# as written.

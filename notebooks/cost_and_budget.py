# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Costs and budgets
#
# What a model is and what it costs: the model's profile and price from the catalog, the exact
# cost of one call, and budgets that stop a LangChain agent and a LlamaIndex agent before
# they spend more.
#
# ## Setup
#
# ```bash
# pip install -U "modelslab-integrations[langchain,llama-index]" langchain
# ```
#
# Costs need a model with a known price, so this notebook uses
# `meta-llama-llama-3.2-3b-instruct`, whose price the shipped catalog holds (the small local
# llama.cpp model of the other notebooks has none). With `MODELSLAB_API_KEY` set, the requests
# go to ModelsLab (or to `MODELSLAB_BASE_URL`). Without a key this notebook starts the offline
# stand-in (`modelslab_core.testing.StandIn`), a fake of the API that answers with canned text
# and counts one token per word: the answers shown are the stand-in's, the arithmetic is real.

# %%
import os

from modelslab_core.testing import StandIn

standin = None
if not os.environ.get("MODELSLAB_API_KEY"):
    standin = StandIn(api_key="demo-key").start()
    os.environ["MODELSLAB_API_KEY"] = standin.api_key
    os.environ["MODELSLAB_BASE_URL"] = standin.base_url
    print("No MODELSLAB_API_KEY: requests go to the offline stand-in")

MODEL = "meta-llama-llama-3.2-3b-instruct"

# %% [markdown]
# ## What the catalog knows
#
# `resolve_model` gives the model's facts (name, context window, price) and where each came
# from; `ChatModelsLab.profile` is LangChain's view of the same facts.

# %%
from langchain_modelslab import ChatModelsLab
from modelslab_core import resolve_model

llm = ChatModelsLab(model=MODEL, max_tokens=64)
facts = resolve_model(MODEL)
print("LangChain profile:", llm.profile)
print("Price:", facts.pricing)
for fact, source in facts.sources.items():
    print(f"  {fact}: {source}")

# %% [markdown]
# ## What one call cost
#
# The answer's token usage times the model's price, exactly (`Decimal`, no rounding):
# `message_cost` reads it from the message.

# %%
from langchain_modelslab import message_cost

message = llm.invoke("Say: the ferry leaves at nine.")
usage, cost = message.usage_metadata, message_cost(message)
print(f"Answer: {message.text!r}")
print(f"Usage: {usage['input_tokens']} in, {usage['output_tokens']} out; cost {cost}")

# %% [markdown]
# ## A budget stops a LangChain agent
#
# Inside `get_modelslab_callback(budget=...)` (US dollars) what ModelsLab bills never exceeds
# the budget: right before each request is sent, it reserves its worst case (its input, bounded
# by the bytes sent, plus `max_tokens` of output, at the catalog price). A request whose worst
# case no longer fits fails with `BudgetExceededError` and is never sent; when the answer's
# usage arrives, the reservation settles to the exact cost.
#
# A budget of 0 refuses everything, and its error says what the request would have reserved
# (`error.needed`). Here the budget is exactly the first turn's worst case: the agent's first
# request runs, and its second (longer: it carries the tool's result) no longer fits.

# %%
from langchain.agents import create_agent
from langchain_core.tools import tool

from langchain_modelslab import BudgetExceededError, get_modelslab_callback


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 21 degrees in {city}."


agent = create_agent(llm, tools=[get_weather])
question = {"messages": [{"role": "user", "content": "Use get_weather for Lisbon."}]}

first_turn = None
with get_modelslab_callback(budget=0):
    try:
        agent.invoke(question)
    except BudgetExceededError as refused:
        first_turn = refused.needed
print(f"The first turn may cost up to ${first_turn}")

agent_stop = None
with get_modelslab_callback(budget=first_turn) as cb:
    try:
        agent.invoke(question)
    except BudgetExceededError as error:
        agent_stop = error
        print("Agent stopped:", error)
print(cb)

# %% [markdown]
# ## LlamaIndex: costs and budgets
#
# `ModelsLab` takes its context window from the catalog, each response carries its cost
# (`response_cost`), and `track_costs(budget=...)` stops a `FunctionAgent` the same way.

# %%
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage

from llama_index_modelslab import ModelsLab, response_cost, track_costs


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


li_llm = ModelsLab(model=MODEL, max_tokens=64)
print("LlamaIndex context window:", li_llm.metadata.context_window)
li_response = await li_llm.achat([ChatMessage(role="user", content="Say: the lighthouse is white.")])
print("LlamaIndex response cost:", response_cost(li_response))

li_agent = FunctionAgent(tools=[add], llm=li_llm)
li_first_turn = None
with track_costs(budget=0):
    try:
        await li_agent.run(user_msg="What is 2 plus 3? Use add.")
    except BudgetExceededError as refused:
        li_first_turn = refused.needed

li_stop = None
with track_costs(budget=li_first_turn) as costs:
    try:
        await li_agent.run(user_msg="What is 2 plus 3? Use add.")
    except BudgetExceededError as error:
        li_stop = error
        print("FunctionAgent stopped:", error)
print(costs)

# %% [markdown]
# ## Clean up
#
# Stop the stand-in if this notebook started it.

# %%
if standin is not None:
    standin.stop()

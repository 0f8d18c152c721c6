# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ChatModelsLab
#
# This notebook gets you started with ModelsLab chat models in LangChain: `ChatModelsLab`
# speaks ModelsLab's LLM API, its OpenAI-compatible `/chat/completions` and its
# Anthropic-compatible `/v1/messages`. Tools, agents and structured output have their own
# notebook, [02_langchain_tools_agents](02_langchain_tools_agents.ipynb).
#
# The outputs shown come from a run on the small local model (`make llama-server`,
# Qwen2.5-Coder-0.5B-Instruct on a CPU): it gets facts wrong; the point here is the API.
#
# ## Overview
#
# ### Integration details
#
# | Class | Package | Serializable | Package downloads |
# | :--- | :--- | :---: | :---: |
# | `ChatModelsLab` | `langchain_modelslab` (distribution `modelslab-integrations`) | ✅ | — |
#
# ### Model features
#
# | Tool calling | Structured output | JSON mode | Image input | Token-level streaming | Native async | Token usage |
# | :---: | :---: | :---: | :---: | :---: | :---: | :---: |
# | ✅ | ✅ | ✅ | ✅ (models that take images) | ✅ | ✅ | ✅ |

# %% [markdown]
# ## Setup
#
# ### Credentials
#
# Get an API key from your ModelsLab account and set the `MODELSLAB_API_KEY` environment
# variable; `MODELSLAB_BASE_URL` changes where requests go (default: ModelsLab's v7 LLM API).
# No key? Any server that speaks the API works: `make llama-server` runs a small local model
# (export the `MODELSLAB_*` lines of `python scripts/llama_server.py env`), and
# `python -m modelslab_core.testing` runs the offline stand-in.

# %%
import os

if not os.environ.get("MODELSLAB_API_KEY"):
    print("Set MODELSLAB_API_KEY, or point MODELSLAB_BASE_URL and a key at the local model (`make llama-server` prints them) or the offline stand-in (`python -m modelslab_core.testing`)")

# %% [markdown]
# ### Installation
#
# The LangChain integration is the `langchain` extra of `modelslab-integrations`:
#
# ```bash
# pip install -U "modelslab-integrations[langchain]"
# ```

# %% [markdown]
# ## Instantiation
#
# The client reads `MODELSLAB_API_KEY` and `MODELSLAB_BASE_URL` itself. The model id comes from
# `MODELSLAB_MODEL` here (a convention of these notebooks, set by
# `scripts/llama_server.py env` to the local model's name). Temperature 0 and a seed make the
# answers repeatable.

# %%
from langchain_modelslab import ChatModelsLab

MODEL = os.environ.get("MODELSLAB_MODEL", "meta-llama-llama-3.2-3b-instruct")

llm = ChatModelsLab(
    model=MODEL,
    temperature=0,
    seed=42,
    max_tokens=48,
    # timeout=60,
    # max_retries=2,
    # dialect="anthropic",  # /v1/messages instead of /chat/completions
)

# %% [markdown]
# ## Invocation
#
# `invoke` takes a string or a list of messages and returns an `AIMessage`, with the token
# usage and the finish reason.

# %%
ai_msg = llm.invoke("In one sentence: what is a lighthouse for?")
print(ai_msg.content)
print(ai_msg.usage_metadata)
print(ai_msg.response_metadata)

# %% [markdown]
# ### System prompts
#
# Messages can be tuples `(role, content)` or LangChain message objects.

# %%
from langchain_core.messages import HumanMessage, SystemMessage

messages = [
    SystemMessage("You are a grumpy old sea captain. Answer in one short sentence."),
    HumanMessage("Should I go sailing today?"),
]
captain = llm.invoke(messages)
print(captain.content)

# %% [markdown]
# ### Multi-turn conversations
#
# The history is a list of messages: append each answer and the next question.

# %%
history = [
    ("system", "You are a helpful assistant. Keep every answer short."),
    ("human", "Hi! My name is Morag and I live on the Isle of Corran."),
]
history.append(llm.invoke(history))
history.append(("human", "What is my name?"))
answer = llm.invoke(history)
print(answer.content)

# %% [markdown]
# ## Chaining
#
# `ChatModelsLab` is a `Runnable`: it composes with prompt templates and output parsers.

# %%
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

prompt = ChatPromptTemplate(
    [
        ("system", "Translate the user's text to {language}. Reply with the translation only."),
        ("human", "{text}"),
    ]
)
chain = prompt | llm | StrOutputParser()
translation = chain.invoke({"language": "French", "text": "Good morning, where is the harbour?"})
print(translation)

# %% [markdown]
# ## Streaming
#
# Chunks arrive as the model writes them; adding them up gives the whole message, token usage
# included.

# %%
pieces, full = [], None
for chunk in llm.stream("Write a haiku about the sea."):
    print(chunk.content, end="", flush=True)
    pieces.append(chunk.content)
    full = chunk if full is None else full + chunk
print()
print(full.usage_metadata)

# %% [markdown]
# ## Async
#
# Every method has an async twin: `ainvoke`, `astream`, `abatch`.

# %%
import asyncio

colour, fruit = await asyncio.gather(
    llm.ainvoke("Name a colour. One word."), llm.ainvoke("Name a fruit. One word.")
)
print(colour.content, "|", fruit.content)

async_pieces = []
async for chunk in llm.astream("Count from 1 to 5, separated by commas."):
    print(chunk.content, end="", flush=True)
    async_pieces.append(chunk.content)
print()

# %% [markdown]
# ## Batch
#
# `batch` runs several inputs concurrently; `max_concurrency` caps how many at a time.

# %%
questions = [
    "Capital of France? One word.",
    "Capital of Japan? One word.",
    "Capital of Italy? One word.",
]
capitals = llm.batch(questions, config={"max_concurrency": 2})
for question, reply in zip(questions, capitals, strict=True):
    print(f"{question} -> {reply.content.strip()}")

# %% [markdown]
# ## Token usage
#
# Each `AIMessage` carries `usage_metadata`; LangChain's `get_usage_metadata_callback` adds up
# a whole run, per model.

# %%
from langchain_core.callbacks import get_usage_metadata_callback

with get_usage_metadata_callback() as usage:
    hello = llm.invoke("Say hello.")
    goodbye = llm.invoke("Say goodbye.")
print(hello.usage_metadata)
print(goodbye.usage_metadata)
print(usage.usage_metadata)

# %% [markdown]
# ## Token counting
#
# `get_num_tokens_from_messages` asks the server (`/v1/messages/count_tokens`), so the count
# is the model's own tokenizer's, chat template included: that is why one short sentence
# costs more than its words, and why the count matches the `input_tokens` the answer to the
# same messages reported.

# %%
counted = llm.get_num_tokens_from_messages(messages)
print(f"counted before sending: {counted}, reported after: {captain.usage_metadata['input_tokens']}")
sentence_tokens = llm.get_num_tokens("The quick brown fox jumps over the lazy dog.")
print("tokens in a sentence:", sentence_tokens)

# %% [markdown]
# ## Stop sequences
#
# Generation stops before the first stop sequence, which is not part of the answer.

# %%
stopped = llm.invoke("Count from 1 to 10, separated by commas.", stop=["5"])
print(repr(stopped.content))

# %% [markdown]
# ## Two wire dialects
#
# ModelsLab serves an OpenAI-compatible `/chat/completions` (the default) and an
# Anthropic-compatible `/v1/messages`. `dialect="anthropic"` switches every call; the messages
# you get back are the same, and so is the answer of a greedy model to the same prompt.

# %%
anthropic_llm = ChatModelsLab(model=MODEL, temperature=0, seed=42, max_tokens=48, dialect="anthropic")
anthropic_captain = anthropic_llm.invoke(messages)
print(anthropic_captain.content)
print(anthropic_captain.usage_metadata)
print(anthropic_captain.response_metadata)

anthropic_pieces, anthropic_full = [], None
for chunk in anthropic_llm.stream("Name three sea birds."):
    print(chunk.content, end="", flush=True)
    anthropic_pieces.append(chunk.content)
    anthropic_full = chunk if anthropic_full is None else anthropic_full + chunk
print()
print(anthropic_full.usage_metadata)

# %% [markdown]
# ## Errors
#
# Failures raise typed errors (which never show the key); here a key the server refuses.

# %%
from langchain_modelslab import ModelsLabAuthenticationError

wrong_key = ChatModelsLab(model=MODEL, api_key="not-a-valid-key", max_retries=0)
try:
    wrong_key.invoke("hello")
except ModelsLabAuthenticationError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## Tool calling and structured output
#
# `bind_tools`, agents and `with_structured_output` are in
# [02_langchain_tools_agents](02_langchain_tools_agents.ipynb).
#
# ## API reference
#
# `help(ChatModelsLab)` shows every parameter, with examples; the `README` of
# `modelslab-integrations` covers costs, budgets and the shared in-flight limit.

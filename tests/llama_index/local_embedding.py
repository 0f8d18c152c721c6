"""Re-export of the local embedding's one copy, ``notebooks/local_embedding.py`` (loaded by path
under another module name: this module's own name is taken)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "notebooks" / "local_embedding.py"
_spec = importlib.util.spec_from_file_location("notebooks_local_embedding", _PATH)
assert _spec is not None and _spec.loader is not None
_module = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
if not hasattr(_module, "MiniLMEmbedding"):
    _spec.loader.exec_module(_module)

MiniLMEmbedding = _module.MiniLMEmbedding
model_path = _module.model_path
tokenizer_path = _module.tokenizer_path

__all__ = ["MiniLMEmbedding", "model_path", "tokenizer_path"]

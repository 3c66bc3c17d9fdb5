"""Token counting: a Hugging Face tokenizer given by path (or name), or a documented estimate without one.

- a `tokenizer.json` file, or a folder holding one, loads with the `tokenizers` library (fast, no model code);
- any other folder or a name loads with `transformers.AutoTokenizer` (a name resolves through the local
  Hugging Face cache, or the Hub where this machine can reach it);
- `None` or `"estimate"` counts ⌈UTF-8 bytes / 4⌉ per text.

A chat (`count_chat`) is counted through the tokenizer's chat template when it has one (a transformers
tokenizer's, or the `chat_template.jinja` / `tokenizer_config.json` beside a `tokenizer.json`), so the role
markers and special tokens count too; without one, the messages' texts are counted. That is the usual rule of thumb for English
  prose; source code and logs often run 3–3.5 bytes per token, so the estimate can undercount by 15–25 %:
  give a tokenizer when a context budget must hold exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import CurateError

ESTIMATE = "estimate"
BYTES_PER_TOKEN = 4
_CACHE: dict[str, TokenCounter] = {}


@dataclass
class TokenCounter:
    """Counts tokens of many texts at once. `name` says which counter (kept per row for provenance)."""

    name: str
    backend: Any = None  # a `tokenizers.Tokenizer`, a transformers tokenizer, or None for the estimate
    chat: Any = None  # a transformers tokenizer holding a chat template, when there is one

    def count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        if self.backend is None:
            return [math.ceil(len(t.encode("utf-8")) / BYTES_PER_TOKEN) for t in texts]
        if hasattr(self.backend, "encode_batch"):
            return [len(e.ids) for e in self.backend.encode_batch(texts, add_special_tokens=False)]
        return [len(ids) for ids in self.backend(texts, add_special_tokens=False)["input_ids"]]

    def count_chat(self, messages: list[dict[str, str]]) -> int:
        if self.chat is None:
            return sum(self.count([m["content"] for m in messages]))
        return self.count([self.chat.apply_chat_template(messages, tokenize=False)])[0]

    def cut(self, text: str, keep: int) -> str:
        """`text` with its middle removed so that about `keep` tokens remain (head and tail halves)."""
        total = self.count([text])[0]
        if total <= keep:
            return text
        ratio = max(keep, 0) / total
        head = int(len(text) * ratio / 2)
        tail = int(len(text) * ratio) - head
        return text[:head] + f"\n[… {total - keep:,} tokens cut …]\n" + (text[-tail:] if tail > 0 else "")


def load_counter(spec: str | None) -> TokenCounter:
    """The counter for `spec` (a path, a name, or None / "estimate"); loaded once per process."""
    key = spec or ESTIMATE
    if key not in _CACHE:
        _CACHE[key] = _load(key)
    return _CACHE[key]


def counter_key(spec: str | None) -> str | None:
    """What identifies a tokenizer's content (for fingerprints): the hash of its files when it is local."""
    if not spec or spec == ESTIMATE:
        return None
    path = Path(spec)
    if not path.exists():
        return spec
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _load(spec: str) -> TokenCounter:
    if spec == ESTIMATE:
        return TokenCounter(f"estimate:bytes/{BYTES_PER_TOKEN}")
    path = Path(spec)
    fast = path if path.is_file() else path / "tokenizer.json"
    if path.is_dir() and (path / "tokenizer_config.json").is_file():
        # a saved tokenizer loads as a trainer loads it: its class may add to the raw tokenizer.json
        # (transformers 5 rebuilds Qwen2's pre-tokenizer), and counts must match what training sees
        return _load_transformers(spec, path)
    if fast.is_file():
        from tokenizers import Tokenizer

        try:
            backend = Tokenizer.from_file(str(fast))
        except Exception as err:  # the tokenizers library raises plain Exceptions for bad files
            raise CurateError(f"cannot load tokenizer {spec}: {err}",
                              "give a tokenizer.json file or a folder saved with save_pretrained") from None
        return TokenCounter(f"tokenizer:{path.name}", backend, _chat_beside(fast, backend))
    return _load_transformers(spec, path)


def _chat_beside(fast: Path, backend: Any) -> Any:
    """A chat renderer from the chat template beside a tokenizer.json: `chat_template.jinja`, or the
    `chat_template` of `tokenizer_config.json` (where transformers saves it)."""
    jinja, config = fast.parent / "chat_template.jinja", fast.parent / "tokenizer_config.json"
    try:
        template = (jinja.read_text() if jinja.is_file() else
                    json.loads(config.read_text()).get("chat_template") if config.is_file() else None)
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(template, str):
        return None
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=backend, chat_template=template)


def _load_transformers(spec: str, path: Path) -> TokenCounter:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as err:
        where = "folder" if path.exists() else "name"
        raise CurateError(f"cannot load tokenizer {where} {spec!r}: {str(err).splitlines()[0]}",
                          "give a tokenizer.json, a folder saved with save_pretrained, a name in the local "
                          "Hugging Face cache, or leave it out to use the bytes/4 estimate") from None
    backend = getattr(tokenizer, "backend_tokenizer", None) or tokenizer
    chat = tokenizer if getattr(tokenizer, "chat_template", None) else None
    return TokenCounter(f"tokenizer:{path.name if path.exists() else spec}", backend, chat)


def parse_budget(text: str | int | None) -> int | None:
    """`32K`, `128k`, `256K`, `1M` or a plain number of tokens (K = 1,024, as context sizes are quoted)."""
    if text is None or isinstance(text, int):
        return text
    value = str(text).strip().upper().replace("_", "").replace(",", "")
    scale = {"K": 1024, "M": 1024 * 1024}.get(value[-1:], 1)
    number = value[:-1] if scale > 1 else value
    try:
        budget = int(float(number) * scale)
    except ValueError:
        raise CurateError(f"bad context budget {text!r}", "write e.g. 32K, 128K, 256K or 100000") from None
    if budget <= 0:
        raise CurateError(f"bad context budget {text!r}", "the budget must be positive")
    return budget

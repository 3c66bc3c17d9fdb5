"""Local models with no server: generation and next-token scoring with `transformers`, generation with vLLM.

`transformers` runs on CPU or GPU: greedy requests (temperature 0) go in padded batches; sampled ones go
one by one, each under its own seed, so a sample does not depend on which others shared its batch (a
resumed run gives the rows of an unbroken one). vLLM (`--backend vllm`, a GPU) takes per-request seeds
in one batch. A model's identity in the cache is its folder's files (names, sizes, times), so a retrained
model is asked again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import CurateError
from curate.llm.cache import CachedAnswer

DEFAULT_MAX_TOKENS = 512
GREEDY_BATCH = 8
SCORE_BATCH = 8


@dataclass(frozen=True)
class Sampling:
    max_tokens: int | None
    temperature: float
    top_p: float | None
    stop: tuple[str, ...] = ()


def model_folder(path: str) -> Path:
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise CurateError(f"no model folder at {path} (no config.json)",
                          "give the folder of a causal LM with its tokenizer, e.g. what `curate train "
                          "make-tiny-model` or `curate train sft` writes")
    return folder.resolve()


def model_identity(backend: str, folder: Path) -> str:
    files = sorted((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in folder.rglob("*") if p.is_file())
    return f"{backend}:{folder.name}:{hashlib.sha256(repr(files).encode()).hexdigest()[:16]}"


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    cuts = [text.index(s) for s in stop if s and s in text]
    return (text[:min(cuts)], True) if cuts else (text, False)


class TransformersModel:
    """A causal LM and its tokenizer from a local folder."""

    def __init__(self, path: str, device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from curate.train.run import quiet

        quiet()
        folder = model_folder(path)
        self.identity = model_identity("transformers", folder)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()
        self.torch = torch

    def prompt(self, messages: list[dict[str, Any]]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise CurateError("the model's tokenizer has no chat template",
                              "use a chat model, or one written by `curate train make-tiny-model`")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    # ----- generation ---------------------------------------------------------------------------------
    def generate(self, conversations: list[list[dict[str, Any]]], sampling: Sampling,
                 seeds: list[int]) -> list[CachedAnswer]:
        prompts = [self.prompt(m) for m in conversations]
        if sampling.temperature == 0:
            return [a for i in range(0, len(prompts), GREEDY_BATCH)
                    for a in self._generate(prompts[i:i + GREEDY_BATCH], sampling, None)]
        return [self._generate([p], sampling, seed)[0] for p, seed in zip(prompts, seeds, strict=True)]

    def _generate(self, prompts: list[str], sampling: Sampling, seed: int | None) -> list[CachedAnswer]:
        torch, tokenizer = self.torch, self.tokenizer
        tokenizer.padding_side = "left"
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        limit = sampling.max_tokens or DEFAULT_MAX_TOKENS
        options: dict[str, Any] = {"max_new_tokens": limit, "pad_token_id": tokenizer.pad_token_id,
                                   "do_sample": sampling.temperature > 0}
        if sampling.temperature > 0:
            options.update(temperature=sampling.temperature, top_p=sampling.top_p or 1.0)
            torch.manual_seed(seed or 0)
        with torch.no_grad():
            out = self.model.generate(**batch, **options)
        answers = []
        width = batch["input_ids"].shape[1]
        for row, mask in zip(out, batch["attention_mask"], strict=True):
            new = row[width:].tolist()
            ended = tokenizer.eos_token_id in new
            if ended:
                new = new[:new.index(tokenizer.eos_token_id)]
            while new and new[-1] == tokenizer.pad_token_id:
                new.pop()
            text, stopped = cut_at_stop(tokenizer.decode(new, skip_special_tokens=True), sampling.stop)
            finish = "stop" if ended or stopped or len(new) < limit else "length"
            answers.append(CachedAnswer(text, int(mask.sum()), len(new), finish))
        return answers

    # ----- scoring ---------------------------------------------------------------------------------------
    def answer_logprobs(self, conversations: list[list[dict[str, Any]]], answers: Sequence[str],
                        prefix: str = "") -> list[list[float]]:
        """log P(answer | conversation, assistant turn opened, `prefix` written) for each answer, from exact
        logits (`prefix`: what the model writes before its answer, e.g. SWE-Gym's `<judgement>`).

        The answer is tokenised together with the prompt and split where the prompt's own tokens end, so
        a tokenizer that merges across the boundary (a space, a newline before "YES") is handled, and an
        answer of several tokens gets the sum of their log-probabilities.
        """
        items: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        for messages in conversations:
            prompt = self.prompt(messages) + prefix
            base = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            for answer in answers:
                full = self.tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
                cut = _common_prefix(base, full)
                if cut == 0 or cut == len(full):
                    raise CurateError(f"cannot place answer {answer!r} after the prompt in this tokenizer",
                                      "pass --yes/--no as the exact text the model writes")
                items.append((tuple(full[:cut]), tuple(full[cut:])))
        scores = self._sequence_logprobs(items)
        return [scores[i:i + len(answers)] for i in range(0, len(scores), len(answers))]

    def _sequence_logprobs(self, items: list[tuple[tuple[int, ...], tuple[int, ...]]]) -> list[float]:
        torch = self.torch
        inputs = sorted({ctx + cont[:-1] for ctx, cont in items}, key=len)  # one pass per distinct input
        rows: dict[tuple[int, ...], Any] = {}
        for i in range(0, len(inputs), SCORE_BATCH):
            chunk = inputs[i:i + SCORE_BATCH]
            width = max(len(s) for s in chunk)
            pad = self.tokenizer.pad_token_id
            ids = torch.tensor([list(s) + [pad] * (width - len(s)) for s in chunk], device=self.device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in chunk], device=self.device)
            with torch.no_grad():
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
            for seq, row in zip(chunk, torch.log_softmax(logits, dim=-1), strict=True):
                rows[seq] = row[:len(seq)].cpu()
        out = []
        for ctx, cont in items:
            row = rows[ctx + cont[:-1]]
            out.append(float(sum(row[len(ctx) - 1 + j, token] for j, token in enumerate(cont))))
        return out


class VLLMModel:
    """vLLM's offline engine (needs the `vllm` package and a GPU)."""

    def __init__(self, path: str):
        try:
            import vllm
        except ImportError:
            raise CurateError("--backend vllm needs vLLM, which is not installed",
                              "pip install vllm (Linux with a CUDA GPU), or use --backend transformers") from None
        folder = model_folder(path)
        self.identity = model_identity("vllm", folder)
        self.vllm = vllm
        self.engine = vllm.LLM(model=str(folder))

    def generate(self, conversations: list[list[dict[str, Any]]], sampling: Sampling,
                 seeds: list[int]) -> list[CachedAnswer]:
        params = [self.vllm.SamplingParams(n=1, temperature=sampling.temperature, top_p=sampling.top_p or 1.0,
                                           max_tokens=sampling.max_tokens or DEFAULT_MAX_TOKENS,
                                           stop=list(sampling.stop) or None, seed=seed) for seed in seeds]
        outputs = self.engine.chat(conversations, sampling_params=params, use_tqdm=False)
        return [CachedAnswer(o.outputs[0].text, len(o.prompt_token_ids or []), len(o.outputs[0].token_ids),
                             "length" if o.outputs[0].finish_reason == "length" else "stop")
                for o in outputs]


def local_model(backend: str, path: str) -> TransformersModel | VLLMModel:
    return VLLMModel(path) if backend == "vllm" else TransformersModel(path)


def seed_of(key: str, seed: int | None) -> int:
    """The seed of one sample: the user's seed plus the sample's, or one drawn from its cache key."""
    return seed if seed is not None else int(key[:8], 16) & 0x7FFFFFFF


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


"""Prompt encoding with Gemma-2, exactly as SanaPipeline encodes (so cached training embeddings
equal what inference computes), with the optional complex human instruction (CHI) prefix and a
per-prompt cache."""

from __future__ import annotations

import inspect
from collections import OrderedDict

import torch
from diffusers import SanaPipeline
from transformers import PreTrainedModel, PreTrainedTokenizerBase

# The paper's CHI prefix, as diffusers ships it (the default of SanaPipeline.__call__).
COMPLEX_HUMAN_INSTRUCTION: list[str] = list(
    inspect.signature(SanaPipeline.__call__).parameters["complex_human_instruction"].default)


class PromptEncoder:
    """`encode(prompts) -> (embeddings (B, max_tokens, D), mask (B, max_tokens))`, cached per prompt."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, text_encoder: PreTrainedModel, *, max_tokens: int,
                 use_chi: bool, device: torch.device | str = "cpu", cache_size: int = 4096) -> None:
        # A pipeline with only the text parts borrows diffusers' encode_prompt unchanged.
        self._pipe = SanaPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=None, transformer=None,
                                  scheduler=None)
        self.max_tokens = max_tokens
        self.use_chi = use_chi
        self.device = torch.device(device)
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._cache_size = cache_size

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        if missing:
            for prompt, (embedding, mask) in zip(missing, zip(*self._encode(missing), strict=True), strict=True):
                self._cache[prompt] = (embedding, mask)
        for prompt in prompts:
            self._cache.move_to_end(prompt)
        pairs = [self._cache[p] for p in prompts]
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return torch.stack([e for e, _ in pairs]), torch.stack([m for _, m in pairs])

    def _encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        # The empty prompt is CFG's unconditional input, which SanaPipeline encodes without CHI.
        chi = COMPLEX_HUMAN_INSTRUCTION if self.use_chi else None
        results: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for group, group_chi in (([p for p in prompts if p], chi), ([p for p in prompts if not p], None)):
            if group:
                embedding, mask, _, _ = self._pipe.encode_prompt(
                    group, do_classifier_free_guidance=False, device=self.device,
                    max_sequence_length=self.max_tokens, complex_human_instruction=group_chi)
                results.update({p: (embedding[i], mask[i]) for i, p in enumerate(group)})
        return torch.stack([results[p][0] for p in prompts]), torch.stack([results[p][1] for p in prompts])

"""A tiny BERT built from a config (no downloaded weights) and token data it can learn, for the
Hugging Face Trainer tests."""

from __future__ import annotations

from typing import Any

import torch
import transformers


def tiny_bert() -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


def token_data(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """``n`` sequences of 10 tokens, labelled by whether the second token is below 20."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 40, (n, 10), generator=g)
    labels = (ids[:, 1] < 20).long()
    return [{"input_ids": i, "labels": y} for i, y in zip(ids, labels, strict=True)]

"""A tiny random-weight causal LM and a byte-level tokenizer, built offline from a config.

Used by the tests, the benchmarks and the GPU script: no weights are downloaded. The
tokenizer knows every byte plus each chat format's special tokens as single added tokens.
"""

from __future__ import annotations

from typing import Any


def byte_tokenizer(extra_special: tuple[str, ...] = ()) -> Any:
    """A byte-level tokenizer (256 byte tokens, no merges) with every format's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from envmine.rl.formats import get_format, known_formats

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    specials: list[str] = ["<|endoftext|>"]
    for name in known_formats():
        specials += [t for t in get_format(name).special_tokens if t not in specials]
    specials += [t for t in extra_special if t not in specials]
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": specials[1:]})
    return tok


def tiny_model(vocab_size: int, hidden: int = 64, layers: int = 2, heads: int = 4,
               seed: int = 0, max_positions: int = 4096) -> Any:
    """A random-weight Llama-architecture model with `hidden` width and `layers` layers."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=max_positions, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = 0
    return model


def tiny_pair(seed: int = 0, **kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) sized to each other."""
    tok = byte_tokenizer()
    return tiny_model(len(tok), seed=seed, **kwargs), tok

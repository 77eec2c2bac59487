"""Tokenizers from local files only: a Hugging Face ``tokenizer.json`` through the
``tokenizers`` library (GPT-2, bert-base-uncased, LLaMA exports), or a byte-level fallback that
needs no file at all. (Named tokenizer.py, not tokenize.py, to stay clear of the stdlib module.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

from optdyn.data.errors import DataError

# end-of-document / separator tokens of common tokenizer.json files, tried in this order
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "[SEP]", "<|end_of_text|>")
PAD_CANDIDATES = ("[PAD]", "<pad>", "<|padding|>")
# long documents are encoded in line-aligned pieces of about this many characters, so one huge
# file (wikitext-103 as a single document) still uses every core and bounded memory
_PIECE_CHARS = 1 << 16


class Tokenizer(Protocol):
    name: str
    vocab_size: int
    eos_id: int
    pad_id: int

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]: ...


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255, end-of-document 256, padding 257."""

    name = "bytes"
    vocab_size = 258
    eos_id = 256
    pad_id = 257

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(t.encode("utf-8")) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class JsonTokenizer:
    """A local ``tokenizer.json``; special tokens are not added (documents are joined by
    ``eos_id`` in packing, and classification inputs are padded with ``pad_id``)."""

    def __init__(self, path: str | Path, eos_token: str | None = None, pad_token: str | None = None):
        from tokenizers import Tokenizer as HF

        path = Path(path)
        if not path.is_file():
            raise DataError.not_found(path, "tokenizer", "a local tokenizer.json (nothing is downloaded)")
        try:
            self._tok = HF.from_file(str(path))
        except Exception as e:
            raise DataError(path, "tokenizer", f"unreadable ({str(e)[:60]})", "a tokenizer.json from the tokenizers library") from None
        self.name = str(path)
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        self.eos_id = self._special(path, eos_token, EOS_CANDIDATES, "eos_token")
        self.pad_id = self._special(path, pad_token, PAD_CANDIDATES, "pad_token", fallback=self.eos_id)

    def _special(self, path, token, candidates, what, fallback=None) -> int:
        for cand in [token] if token else candidates:
            tid = self._tok.token_to_id(cand)
            if tid is not None:
                return tid
        if fallback is not None and not token:
            return fallback
        raise DataError(path, what, token, "a token of the vocabulary, e.g. one of " + ", ".join(candidates))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        pieces, owner = [], []
        for i, text in enumerate(texts):
            for piece in _split_lines(text):
                pieces.append(piece)
                owner.append(i)
        out: list[list[int]] = [[] for _ in texts]
        for i, enc in zip(owner, self._tok.encode_batch(pieces, add_special_tokens=False)):
            out[i].extend(enc.ids)
        return out

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids))


def _split_lines(text: str) -> list[str]:
    if len(text) <= _PIECE_CHARS:
        return [text]
    pieces, start = [], 0
    while start < len(text):
        cut = text.find("\n", start + _PIECE_CHARS)
        end = len(text) if cut < 0 else cut + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def load_tokenizer(spec: str | Path | None, eos_token: str | None = None, pad_token: str | None = None) -> Tokenizer:
    """``None`` or ``"bytes"``: the byte-level fallback; otherwise the path of a tokenizer.json."""
    if spec is None or str(spec) == "bytes":
        return ByteTokenizer()
    return JsonTokenizer(spec, eos_token, pad_token)

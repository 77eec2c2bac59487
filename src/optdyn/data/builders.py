"""One builder per dataset kind: ``build(out_dir, **params) -> info`` writes the prepared files
(.npy arrays, or packed .bin token files) into ``out_dir`` and returns facts for the manifest.
Parameters are keyword-only with defaults, so prepare.py can list the allowed keys and record
the fully resolved parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from optdyn.data import images, synthetic
from optdyn.data.errors import DataError
from optdyn.data.manifest import sha256_file
from optdyn.data.pack import pack_documents, pack_split_stream, token_dtype
from optdyn.data.text import corpus_files, iter_documents, read_sst2
from optdyn.data.tokenizer import load_tokenizer


def _save(out: Path, **arrays: np.ndarray) -> dict[str, list[int]]:
    for key, arr in arrays.items():
        np.save(out / f"{key}.npy", arr)
    return {key: list(arr.shape) for key, arr in arrays.items()}


def _image_set(out, x_tr, y_tr, x_te, y_te, *, rule, n, per_class, seed, classes, normalization, constants, stats_from):
    idx = images.select(y_tr, rule, n=n, per_class=per_class, seed=seed, classes=classes)
    if stats_from not in ("subset", "full_train"):
        raise DataError("params", "stats_from", stats_from, "subset or full_train")
    stats_x = x_tr[idx] if stats_from == "subset" else x_tr
    mean, std = images.normalization_stats(images.to_unit(stats_x), normalization, constants)
    y_tr, y_te = y_tr[idx], y_te
    if classes is not None:
        keep = np.isin(y_te, classes)
        x_te, y_te = x_te[keep], images.relabel(y_te[keep], classes)
        y_tr = images.relabel(y_tr, classes)
    shapes = _save(
        out, x_train=images.normalize(x_tr[idx], mean, std), y_train=y_tr, index_train=idx,
        x_test=images.normalize(x_te, mean, std), y_test=y_te,
        norm_mean=np.asarray(mean, np.float32), norm_std=np.asarray(std, np.float32),
    )
    return {"shapes": shapes, "class_counts": np.bincount(y_tr).tolist()}


def digits(out: Path, *, rule: str = "all", n: int | None = None, per_class: int | None = None, seed: int = 0,
           classes: Sequence[int] | None = None, normalization: str = "none", constants: str | None = None,
           stats_from: str = "subset") -> dict:
    """scikit-learn digits; the test set is every image not in the training subset (digits has
    no official split), restricted to ``classes``."""
    x, y = images.load_digits()
    idx = images.select(y, rule, n=n, per_class=per_class, seed=seed, classes=classes)
    rest = np.setdiff1d(np.arange(len(y)), idx)
    # _image_set selects the same indices again, so index_train refers to all 1797 images
    return _image_set(out, x, y, x[rest], y[rest], rule=rule, n=n, per_class=per_class, seed=seed,
                      classes=classes, normalization=normalization, constants=constants, stats_from=stats_from)


def _cifar(expect_classes: int, out: Path, source: str, label: str, **kw) -> dict:
    x_tr, y_tr, names = images.read_cifar(source, "train", label)
    if len(names) != expect_classes:
        raise DataError(source, "classes", len(names), f"{expect_classes} for this dataset kind")
    x_te, y_te, _ = images.read_cifar(source, "test", label)
    info = _image_set(out, x_tr, y_tr, x_te, y_te, **kw)
    return info | {"class_names": names, "source_sha256": sha256_file(source) if Path(source).is_file() else None}


def cifar10(out: Path, *, source: str, rule: str = "all", n: int | None = None, per_class: int | None = None,
            seed: int = 0, classes: Sequence[int] | None = None, normalization: str = "per_channel",
            constants: str | None = None, stats_from: str = "subset") -> dict:
    """CIFAR-10 from the local tarball/folder. Damian's cifar10-5k: rule=first_n, n=5000,
    per_channel, subset; cats-vs-dogs: rule=first_per_class, per_class=2500, classes=[3, 5];
    CIFAR-10-2k: rule=first_per_class, per_class=200."""
    return _cifar(10, out, source, "fine", rule=rule, n=n, per_class=per_class, seed=seed, classes=classes,
                  normalization=normalization, constants=constants, stats_from=stats_from)


def cifar100(out: Path, *, source: str, label: str = "fine", rule: str = "all", n: int | None = None,
             per_class: int | None = None, seed: int = 0, classes: Sequence[int] | None = None,
             normalization: str = "constants", constants: str | None = "cifar100", stats_from: str = "full_train") -> dict:
    return _cifar(100 if label == "fine" else 20, out, source, label, rule=rule, n=n, per_class=per_class, seed=seed,
                  classes=classes, normalization=normalization, constants=constants, stats_from=stats_from)


def imagenet(out: Path, *, source: str, size: int = 224, crop_fraction: float = 0.875, per_class: int | None = None,
             normalization: str = "per_channel", constants: str | None = None) -> dict:
    """ImageNet from local train/val class folders of JPEGs (``data/imagenet.py``); the test
    set is ``val``; per-channel statistics of the training images read."""
    from optdyn.data.imagenet import read_imagenet

    x_tr, y_tr, wnids = read_imagenet(source, "train", size=size, crop_fraction=crop_fraction, per_class=per_class)
    x_te, y_te, _ = read_imagenet(source, "val", size=size, crop_fraction=crop_fraction, classes=wnids)
    info = _image_set(out, x_tr, y_tr, x_te, y_te, rule="all", n=None, per_class=None, seed=0, classes=None,
                      normalization=normalization, constants=constants, stats_from="subset")
    return info | {"class_names": wnids}


def _pad(ids: list[list[int]], pad_id: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.full((len(ids), length), pad_id, dtype=np.int32)
    mask = np.zeros((len(ids), length), dtype=bool)
    for i, t in enumerate(ids):
        tokens[i, : len(t)], mask[i, : len(t)] = t, True
    return tokens, mask


def sst2(out: Path, *, source: str, tokenizer: str | None = None, rule: str = "first_per_class",
         n: int | None = None, per_class: int | None = 2500, seed: int = 0) -> dict:
    """GLUE SST-2 (folder with train.tsv and dev.tsv). Damian's sst2(n): the first 2500
    negatives + first 2500 positives, padded to the longest in the subset (``padding=True``);
    dev is padded to that same length (longer dev sentences are truncated and counted)."""
    tok = load_tokenizer(tokenizer)
    s_tr, y_tr = read_sst2(Path(source) / "train.tsv")
    s_te, y_te = read_sst2(Path(source) / "dev.tsv")
    idx = images.select(y_tr, rule, n=n, per_class=per_class, seed=seed)
    ids_tr = tok.encode_batch([s_tr[i] for i in idx])
    ids_te = tok.encode_batch(s_te)
    length = max(len(t) for t in ids_tr)
    truncated = sum(len(t) > length for t in ids_te)
    t_tr, m_tr = _pad(ids_tr, tok.pad_id, length)
    t_te, m_te = _pad([t[:length] for t in ids_te], tok.pad_id, length)
    shapes = _save(out, tokens_train=t_tr, mask_train=m_tr, y_train=y_tr[idx], index_train=idx,
                   tokens_test=t_te, mask_test=m_te, y_test=y_te)
    return {"shapes": shapes, "vocab_size": tok.vocab_size, "pad_id": tok.pad_id, "test_truncated": truncated,
            "tokenizer_sha256": sha256_file(tokenizer) if tokenizer and tokenizer != "bytes" else None}


def synthetic_tokens(out: Path, *, n_train: int = 1000, n_test: int = 1000, vocab: int = 32, length: int = 12,
                     n_signal: int = 4, noise: float = 0.0, seed: int = 0) -> dict:
    """The SST-2 stand-in; test labels are clean (noise only on training labels)."""
    t_tr, y_tr = synthetic.token_classification(n_train, vocab, length, n_signal, noise, seed)
    t_te, y_te = synthetic.token_classification(n_test, vocab, length, n_signal, 0.0, seed + 1)
    return {"shapes": _save(out, tokens_train=t_tr, y_train=y_tr, tokens_test=t_te, y_test=y_te), "vocab_size": vocab}


def _write_stream(out: Path, vocab: int, **streams: np.ndarray) -> dict:
    dtype = token_dtype(vocab)
    for split, arr in streams.items():
        arr.astype(dtype).tofile(out / f"{split}.bin")
    return {"vocab_size": vocab, "dtype": dtype.name, "tokens": {s: int(len(a)) for s, a in streams.items()}}


def markov(out: Path, *, vocab: int = 64, alpha_min: float = 0.005, alpha_max: float = 10.0,
           train_tokens: int = 200_000, val_tokens: int = 20_000, seed: int = 0) -> dict:
    P = synthetic.markov_language(vocab, alpha_min, alpha_max, seed)
    np.save(out / "transition.npy", P)
    info = _write_stream(out, vocab, train=synthetic.sample_markov(P, train_tokens, seed + 1),
                         val=synthetic.sample_markov(P, val_tokens, seed + 2))
    return info | {"entropy_rate": synthetic.entropy_rate(P)}


def bigram(out: Path, *, n_det: int = 50, n_sto: int = 50, m: int = 50, det_entropy_max: float = 0.2,
           sto_entropy_min: float = 1.0, train_pairs: int = 100_000, val_pairs: int = 10_000, seed: int = 0) -> dict:
    from optdyn.theory.bigram import make_language

    P, is_det = make_language(n_det, n_sto, m, det_entropy_max, sto_entropy_min, seed)
    _save(out, P=P, is_det=is_det)
    return _write_stream(out, len(P) + m, train=synthetic.bigram_stream(P, train_pairs, seed + 1),
                         val=synthetic.bigram_stream(P, val_pairs, seed + 2))


def corpus(out: Path, *, train: Sequence[str], val: Sequence[str] | None = None, val_fraction: float = 0.0005,
           seed: int = 0, tokenizer: str | None = None, eos_token: str | None = None, text_key: str = "text",
           txt_split: str = "file") -> dict:
    """A text corpus from local files/folders; with ``val`` the official validation files
    (wikitext's wiki.valid.*), otherwise a seeded per-document split by ``val_fraction``."""
    tok = load_tokenizer(tokenizer, eos_token)
    train_files = [f for s in train for f in corpus_files(s)]

    def docs(files):
        for f in files:
            yield from iter_documents(f, text_key, txt_split)

    if val:
        val_files = [f for s in val for f in corpus_files(s)]
        counts = pack_documents({"train": docs(train_files), "val": docs(val_files)}, tok, out)
    else:
        val_files = []
        counts = pack_split_stream(docs(train_files), tok, out, val_fraction, seed)
    return {"vocab_size": tok.vocab_size, "eos_id": tok.eos_id, "dtype": token_dtype(tok.vocab_size).name,
            "tokens": counts, "sources": {str(f): f.stat().st_size for f in train_files + val_files},
            "tokenizer_sha256": sha256_file(tokenizer) if tokenizer and tokenizer != "bytes" else None}


KINDS = {"digits": digits, "cifar10": cifar10, "cifar100": cifar100, "sst2": sst2,
         "synthetic_tokens": synthetic_tokens, "markov": markov, "bigram": bigram, "corpus": corpus,
         "imagenet": imagenet}

# the check tier's stand-in for any of the kinds above (writes their real formats, then builds)
from optdyn.data.fake_formats import fake  # noqa: E402

KINDS["fake"] = fake

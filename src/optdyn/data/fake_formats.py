"""Small fake datasets in the real on-disk formats, for the ``check`` tier (docs/check-tier.md).

The ``fake`` builder kind stands in for a real dataset ``{kind, params}``: it writes a small
source in the format the real one comes in (the CIFAR python tarball, GLUE SST-2 TSVs, jsonl.zst
or parquet shards, wikitext ``.raw`` files, ImageNet's ``train/<wnid>/*.JPEG`` class folders, a
``tokenizer.json`` with the real tokenizer's vocabulary size) into a scratch folder, then runs
the real builder on it. So a paper-tier run's
data goes through the same readers, tokenizer, packing, subset rules and manifest as on a
cluster; only the content is noise. Everything is a pure function of ``seed``.

What differs from the real dataset is returned by ``fake_changes`` (the check tier lists it as a
deviation): sizes are capped (``MAX_IMAGES``...), and a corpus split by ``val_fraction`` gets
``FAKE_VAL_FRACTION`` so a few hundred fake documents still have a validation split.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from optdyn.data.errors import DataError

MAX_IMAGES = 5000  # training images of a fake CIFAR (the largest full batch a check run executes)
TEST_IMAGES = 1000
SST2_TRAIN, SST2_DEV = 5000, 200
#: a fake ImageNet keeps the paper's shapes: all 1000 classes (the head's width is read from the
#: labels), a batch of 1024 drawn without replacement (so 1024 training images), every class in
#: val (the reader requires it). Sources are tiny JPEGs (the reader's Resize 256 / CenterCrop 224
#: scales them up); prepared as the real builder's float32 224 x 224 arrays they are ~1.2 GB
IMAGENET_CLASSES, IMAGENET_TRAIN, IMAGENET_VAL_PER_CLASS = 1000, 1024, 1
IMAGENET_JPEG_PX = (16, 12)  # (width, height): not square, so the shorter-side resize and the crop both act
CORPUS_DOCS, DOC_WORDS = 48, 1500  # ~72k tokens: more than one window of the longest seq_len (4096)
FAKE_VAL_FRACTION = 0.25
#: embedded builders' size parameters and their caps (bigram_cities_3600 samples 20M pairs)
SIZE_CAPS = {"train_pairs": 50_000, "val_pairs": 10_000, "train_tokens": 200_000, "val_tokens": 20_000}
#: vocabulary sizes of the tokenizers config/data.yaml names, by the folder a tokenizer.json is in
TOKENIZER_VOCAB = {"gpt2": 50257, "gpt-neox-20b": 50277, "bert-base-uncased": 30522}
SPECIALS = ["[UNK]", "[PAD]", "<|endoftext|>"]
#: folder sources come as jsonl.zst shards (the Pile, DCLM) unless named here (HF parquet exports)
PARQUET_FOLDERS = ("openwebtext", "minipile")
WORDS = 400  # distinct words in fake text (each one token of the fake tokenizer)


def write_tokenizer(path: Path, vocab_size: int) -> Path:
    """A WordLevel ``tokenizer.json`` of exactly ``vocab_size`` ids: [UNK], [PAD],
    <|endoftext|>, then words ``w0``, ``w1``...; fake text uses the first ``WORDS`` words."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i + len(SPECIALS) for i in range(vocab_size - len(SPECIALS))})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def _text(rng: np.random.Generator, words: int) -> str:
    ids = rng.integers(0, WORDS, size=words)
    lines = [" ".join(f"w{i}" for i in ids[k : k + 12]) for k in range(0, words, 12)]
    return "\n".join(lines)


def _images(rng: np.random.Generator, n: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Balanced shuffled labels; pixels a class colour plus 2-bit noise (compresses well)."""
    labels = rng.permutation(np.arange(n) % classes)
    return labels, ((labels[:, None] * 251 // classes) + rng.integers(0, 4, size=(n, 3072))).astype(np.uint8)


def write_imagenet(folder: Path, seed: int = 0, classes: int = IMAGENET_CLASSES, n_train: int = IMAGENET_TRAIN,
                   val_per_class: int = IMAGENET_VAL_PER_CLASS) -> Path:
    """ILSVRC-2012 as the reader (``data/imagenet.py``) expects it: ``train/<wnid>/<wnid>_<k>.JPEG``
    and ``val/<wnid>/ILSVRC2012_val_<k>.JPEG``, with ``classes`` wnids ``n00000000``... and
    ``n_train`` training images spread evenly (every class has one; the first ``n_train %
    classes`` one more). Each JPEG is ``IMAGENET_JPEG_PX``: a class colour plus noise."""
    from PIL import Image

    if n_train < classes:
        raise DataError("fake imagenet", "n_train", n_train, f"at least one image per class ({classes})")
    rng = np.random.default_rng(seed)
    w, h = IMAGENET_JPEG_PX
    wnids = [f"n{k:08d}" for k in range(classes)]
    counts = {"train": [n_train // classes + (k < n_train % classes) for k in range(classes)],
              "val": [val_per_class] * classes}
    serial = 0
    for split, per in counts.items():
        for k, (wnid, n) in enumerate(zip(wnids, per)):
            d = folder / split / wnid
            d.mkdir(parents=True, exist_ok=True)
            colour = np.array([k * 251 // classes, (k * 97) % 256, (k * 13) % 256])
            for i in range(n):
                serial += 1
                px = np.clip(colour + rng.integers(-8, 9, size=(h, w, 3)), 0, 255).astype(np.uint8)
                name = f"{wnid}_{i}.JPEG" if split == "train" else f"ILSVRC2012_val_{serial:08d}.JPEG"
                Image.fromarray(px).save(d / name, format="JPEG", quality=75)
    return folder


def _write_tar(path: Path, folder: str, members: dict[str, dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, obj in members.items():
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def write_cifar10(path: Path, seed: int = 0, n_train: int = MAX_IMAGES, n_test: int = TEST_IMAGES) -> Path:
    """``cifar-10-python.tar.gz``: five training batches, a test batch and ``batches.meta`` as
    the official pickles (dicts of bytes keys, uint8 rows of 3072 = 3 channel planes)."""
    rng = np.random.default_rng(seed)

    def batch(n: int) -> dict:
        labels, data = _images(rng, n, 10)
        return {b"batch_label": b"fake", b"labels": labels.tolist(), b"data": data,
                b"filenames": [f"fake_{i}.png".encode() for i in range(n)]}

    sizes = [n_train // 5 + (k < n_train % 5) for k in range(5)]
    members = {f"data_batch_{k + 1}": batch(n) for k, n in enumerate(sizes)}
    members["test_batch"] = batch(n_test)
    members["batches.meta"] = {b"label_names": [f"class{i}".encode() for i in range(10)],
                               b"num_cases_per_batch": sizes[0], b"num_vis": 3072}
    return _write_tar(path, "cifar-10-batches-py", members)


def write_cifar100(path: Path, seed: int = 0, n_train: int = MAX_IMAGES, n_test: int = TEST_IMAGES) -> Path:
    """``cifar-100-python.tar.gz``: ``train``, ``test`` and ``meta`` with fine (100) and coarse
    (20) labels, as the official pickles."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> dict:
        fine, data = _images(rng, n, 100)
        return {b"batch_label": b"fake", b"fine_labels": fine.tolist(), b"coarse_labels": (fine // 5).tolist(),
                b"data": data, b"filenames": [f"fake_{i}.png".encode() for i in range(n)]}

    members = {"train": split(n_train), "test": split(n_test),
               "meta": {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}}
    return _write_tar(path, "cifar-100-python", members)


def write_sst2(folder: Path, seed: int = 0, n_train: int = SST2_TRAIN, n_dev: int = SST2_DEV) -> Path:
    """GLUE SST-2's ``train.tsv`` and ``dev.tsv`` (header ``sentence\\tlabel``, unquoted)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.tsv", n_train), ("dev.tsv", n_dev)):
        rows = [f"{_text(rng, int(rng.integers(3, 30))).replace(chr(10), ' ')}\t{k % 2}" for k in range(n)]
        (folder / name).write_text("sentence\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return folder


def write_corpus_file(path: Path, rng: np.random.Generator, docs: int = CORPUS_DOCS) -> Path:
    """One corpus file in the format its name says: .jsonl.zst / .jsonl (``{"text": ...}`` per
    line), .parquet (a ``text`` column), .raw / .txt (wikitext: `` = Title = `` articles)."""
    texts = [_text(rng, DOC_WORDS) for _ in range(docs)]
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith((".jsonl.zst", ".jsonl")):
        blob = "".join(json.dumps({"text": t, "meta": {"pile_set_name": "fake"}}) + "\n" for t in texts).encode()
        if name.endswith(".zst"):
            import zstandard

            blob = zstandard.ZstdCompressor().compress(blob)
        path.write_bytes(blob)
    elif name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": texts}), path, row_group_size=16)
    elif name.endswith((".raw", ".txt", ".tokens")):
        articles = [f" = Fake article {k} = \n \n {t.replace(chr(10), ' .' + chr(10) + ' ')} \n \n" for k, t in enumerate(texts)]
        path.write_text(" \n" + "".join(articles), encoding="utf-8")
    else:
        raise DataError(path, "corpus format", path.suffix, "a .jsonl.zst, .jsonl, .parquet or wikitext .raw name")
    return path


def _corpus_source(source: str, scratch: Path, rng: np.random.Generator) -> str:
    """A fake stand-in for one ``train``/``val`` entry: a file of the same name, or a folder of
    two shards in its format."""
    src = Path(source)
    out = scratch / src.relative_to(src.anchor) if src.is_absolute() else scratch / src
    if src.suffix:  # a file: same name, same format
        return str(write_corpus_file(out, rng))
    ext = ".parquet" if any(p in PARQUET_FOLDERS for p in src.parts) else ".jsonl.zst"
    for shard in range(2):
        write_corpus_file(out / f"shard_{shard:02d}{ext}", rng, CORPUS_DOCS // 2)
    return str(out)


def _tokenizer(spec: str | None, scratch: Path) -> str | None:
    if spec is None or spec == "bytes":
        return spec
    name = Path(spec).parent.name
    if name not in TOKENIZER_VOCAB:
        raise DataError(spec, "tokenizer", name, "a tokenizer of " + ", ".join(TOKENIZER_VOCAB) + " (fake_formats.TOKENIZER_VOCAB)")
    return str(write_tokenizer(scratch / "tokenizers" / name / "tokenizer.json", TOKENIZER_VOCAB[name]))


def fake_params(kind: str, params: dict[str, Any], scratch: Path, seed: int = 0) -> dict[str, Any]:
    """The real builder's parameters, with every local source replaced by a fake one written
    under ``scratch`` and sizes capped (``fake_changes`` says which)."""
    rng = np.random.default_rng(seed)
    p = dict(params)
    if kind == "cifar10":
        p["source"] = str(write_cifar10(scratch / "cifar-10-python.tar.gz", seed))
    elif kind == "cifar100":
        p["source"] = str(write_cifar100(scratch / "cifar-100-python.tar.gz", seed))
    elif kind == "imagenet":
        p["source"] = str(write_imagenet(scratch / "imagenet", seed))
    elif kind == "sst2":
        p["source"] = str(write_sst2(scratch / "SST-2", seed))
        p["tokenizer"] = _tokenizer(p.get("tokenizer"), scratch)
    elif kind == "corpus":
        p["train"] = [_corpus_source(s, scratch / "train", rng) for s in p["train"]]
        if p.get("val"):
            p["val"] = [_corpus_source(s, scratch / "val", rng) for s in p["val"]]
        p["tokenizer"] = _tokenizer(p.get("tokenizer"), scratch)
    return p | fake_changes(kind, params)


def fake_changes(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters the fake dataset changes besides its sources (its listed deviations)."""
    out: dict[str, Any] = {}
    if kind in ("cifar10", "cifar100"):
        if params.get("n"):
            out["n"] = min(params["n"], MAX_IMAGES)
        if params.get("per_class"):
            out["per_class"] = min(params["per_class"], MAX_IMAGES // (10 if kind == "cifar10" else 100))
    if kind == "sst2" and params.get("per_class"):
        out["per_class"] = min(params["per_class"], SST2_TRAIN // 2)
    if kind == "corpus" and not params.get("val"):
        out["val_fraction"] = FAKE_VAL_FRACTION
    for key, cap in SIZE_CAPS.items():
        if isinstance(params.get(key), int) and params[key] > cap:
            out[key] = cap
    return {k: v for k, v in out.items() if params.get(k) != v}


def fake(out: Path, *, of: dict[str, Any], seed: int = 0) -> dict:
    """Builder kind ``fake``: ``of`` is the real dataset's ``{kind, params}`` (resolved, as in
    config/data.yaml). The fake sources are written to a scratch folder beside ``out`` and
    removed once the real builder has read them; the manifest holds only what it prepared."""
    from optdyn.data.builders import KINDS

    kind, params = of.get("kind"), dict(of.get("params") or {})
    if kind not in KINDS or kind == "fake":
        raise DataError("data", "fake.of.kind", kind, "a real dataset kind: " + ", ".join(k for k in KINDS if k != "fake"))
    scratch = Path(tempfile.mkdtemp(prefix=".fake-src-", dir=out.parent))
    try:
        info = KINDS[kind](out, **fake_params(kind, params, scratch, seed))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"fake_of": kind, "fake_changes": fake_changes(kind, params)} | info


#: training-set sizes of the real sources (a rule ``all`` takes every example)
REAL_TRAIN = {"cifar10": 50_000, "cifar100": 50_000, "sst2": 67_349, "imagenet": 1_281_167}


def real_examples(kind: str, params: dict[str, Any]) -> int | None:
    """Training examples the real dataset has (the batch of a full-batch run on it), or None
    for kinds whose fake keeps the real size (embedded kinds, corpora)."""
    if kind not in REAL_TRAIN:
        return None
    if kind == "imagenet":  # its builder has no subset rule, only per_class
        return int(params["per_class"]) * IMAGENET_CLASSES if params.get("per_class") else REAL_TRAIN[kind]
    rule = params.get("rule", "all")
    if rule == "all":
        return REAL_TRAIN[kind]
    if rule == "first_n":
        return int(params["n"])
    classes = params.get("classes")
    return int(params["per_class"]) * (len(classes) if classes else {"sst2": 2, "cifar10": 10, "cifar100": 100}[kind])


def fake_size(kind: str) -> str:
    """What the fake source of ``kind`` holds, for the check tier's deviation."""
    return {"cifar10": f"{MAX_IMAGES} training and {TEST_IMAGES} test images",
            "cifar100": f"{MAX_IMAGES} training and {TEST_IMAGES} test images",
            "sst2": f"{SST2_TRAIN} training and {SST2_DEV} dev sentences",
            "corpus": f"{CORPUS_DOCS} documents of {DOC_WORDS} words per file",
            "imagenet": (f"all {IMAGENET_CLASSES} classes, {IMAGENET_TRAIN} training images (one batch of the paper's 1024; "
                         f"one or two a class) and {IMAGENET_VAL_PER_CLASS} validation image a class, as "
                         f"{IMAGENET_JPEG_PX[0]} x {IMAGENET_JPEG_PX[1]} px JPEGs that the real Resize 256 / CenterCrop 224 scales "
                         "up; ~1.2 GB once prepared")}.get(kind, "capped sizes")

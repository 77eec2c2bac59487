"""ImageNet (ILSVRC-2012) from a local copy in the usual class-folder layout, as torchvision's
``ImageFolder`` reads it:

    <source>/train/<wnid>/*.JPEG
    <source>/val/<wnid>/*.JPEG

Class indices are the sorted wnid folder names of ``train`` (ImageFolder's order); ``val`` must
have the same folders. Each image is decoded to RGB and brought to ``size`` x ``size`` the way
the evaluation transform does (resize the shorter side to ``size / crop_fraction``, then a
center crop; the paper's Resize 256 / CenterCrop 224 at size 224), as uint8 NHWC. Nothing is
downloaded; a missing copy is a one-line ``DataError``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optdyn.data.errors import DataError

EXTENSIONS = (".jpeg", ".jpg", ".png")


def _classes(split_dir: Path) -> list[str]:
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir())


def _load(path: Path, size: int, crop_fraction: float) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            short = round(size / crop_fraction)
            w, h = im.size
            scale = short / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(path, "ImageNet image", f"unreadable ({e})", "a JPEG or PNG image") from None


def read_imagenet(source: str | Path, split: str = "train", *, size: int = 224, crop_fraction: float = 0.875,
                  per_class: int | None = None, classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x (N, size, size, 3) uint8, y int64, wnids) of one split, in class then file-name order;
    ``per_class`` keeps the first that many files of each class (sorted names)."""
    root = Path(source)
    if not root.is_dir():
        raise DataError.not_found(root, "ImageNet source", "a folder with train/<wnid>/*.JPEG and val/<wnid>/*.JPEG"
                                  " (nothing is downloaded: put a local copy there, or point the dataset's `source:` in"
                                  " config/data.yaml at one)")
    split_dir = root / split
    if not split_dir.is_dir():
        raise DataError.not_found(split_dir, f"ImageNet {split} folder", f"{split}/<wnid>/*.JPEG class folders")
    found = _classes(split_dir)
    wnids = classes if classes is not None else found
    missing = sorted(set(wnids) - set(found))
    if missing:
        raise DataError(split_dir, "class folders", f"{len(missing)} missing (e.g. {missing[0]})", "the train split's classes")
    xs, ys = [], []
    for label, wnid in enumerate(wnids):
        files = sorted(p for p in (split_dir / wnid).iterdir() if p.suffix.lower() in EXTENSIONS)
        if not files:
            raise DataError(split_dir / wnid, "images", 0, "at least one .JPEG / .png per class folder")
        for path in files[:per_class]:
            xs.append(_load(path, size, crop_fraction))
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), list(wnids)

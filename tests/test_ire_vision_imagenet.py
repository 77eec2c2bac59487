"""The ImageNet reader (data/imagenet.py) on a tiny fake ImageNet written here: class folders of
JPEGs in train/ and val/, labels in sorted-wnid order, resize-then-center-crop, the prepared
dataset's arrays, and one-line errors for a missing copy."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from optdyn.data.errors import DataError
from optdyn.data.imagenet import read_imagenet
from optdyn.data.prepare import load_prepared, prepare

WNIDS = ["n01440764", "n01443537", "n02102040"]  # deliberately listed in sorted order


def _write(root, split: str, per_class: int, size=(40, 30)):
    for c, wnid in enumerate(WNIDS):
        folder = root / split / wnid
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = np.zeros((size[1], size[0], 3), np.uint8)
            img[..., c] = 200  # the class's colour channel
            img[:2, :, :] = 255  # a white top border that the center crop must cut away
            Image.fromarray(img).save(folder / f"{wnid}_{i}.JPEG", quality=95)


@pytest.fixture()
def fake(tmp_path):
    root = tmp_path / "imagenet"
    _write(root, "train", 3)
    _write(root, "val", 2)
    return root


def test_reader_labels_by_sorted_wnid_and_center_crops(fake):
    x, y, wnids = read_imagenet(fake, "train", size=16)
    assert wnids == WNIDS and x.shape == (9, 16, 16, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 3))
    # each class's colour dominates its channel; the white border was cropped away
    for c in range(3):
        assert np.all(x[y == c][..., c].mean(axis=(1, 2)) > 150)
        assert np.all(x[y == c][..., [k for k in range(3) if k != c]].mean() < 40)
    xv, yv, _ = read_imagenet(fake, "val", size=16, classes=wnids)
    assert xv.shape == (6, 16, 16, 3) and list(yv) == [0, 0, 1, 1, 2, 2]
    x1, _, _ = read_imagenet(fake, "train", size=16, per_class=1)
    assert x1.shape[0] == 3


def test_prepared_imagenet_has_train_and_test_arrays(fake, tmp_path):
    data = tmp_path / "data"
    prepare("imnet", "imagenet", {"source": str(fake), "size": 8}, data)
    ds = load_prepared("imnet", data)
    assert ds["x_train"].shape == (9, 8, 8, 3) and ds["x_test"].shape == (6, 8, 8, 3)
    assert ds["x_train"].dtype == np.float32 and abs(float(ds["x_train"].mean())) < 1e-4  # per-channel normalized
    assert sorted(set(ds["y_test"].tolist())) == [0, 1, 2]


def test_missing_copies_fail_in_one_line(tmp_path, fake):
    with pytest.raises(DataError, match="ImageNet source not found") as e:
        read_imagenet(tmp_path / "nowhere")
    assert "\n" not in str(e.value)
    (fake / "val" / WNIDS[2]).rename(fake / "val" / "elsewhere")
    with pytest.raises(DataError, match="class folders"):
        read_imagenet(fake, "val", classes=WNIDS)

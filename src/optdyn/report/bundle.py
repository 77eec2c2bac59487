"""Copy what a figure card links to into the report folder, so the folder is self-contained.

The bundle must stay small enough to mail or attach (issue 12: 15 MB for the smoke tier). The
page needs the PNGs, claims/values JSON, run files and figure code: those are always copied. A
CSV over ``CSV_MAX`` bytes is copied thinned (evenly subsampled rows of each series, first and
last kept). PDFs come last, each up to ``PDF_MAX``, while the folder stays under
``BUNDLE_BUDGET``; a card names the full file in the results folder for whatever was thinned or
left out.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .format import slug

CSV_MAX = 120_000  # a figure CSV above this is thinned in the bundle (the full one stays in results)
CSV_TARGET = 60_000
PDF_MAX = 1_000_000
PNG_MAX_WIDTH = 1600  # px: sharp when zoomed on a laptop screen; wider figures are downscaled in the bundle
BUNDLE_BUDGET = 14_000_000  # under the 15 MB limit, leaving room for index.html itself


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not (dest.exists() and dest.resolve() == src.resolve()):
        shutil.copy2(src, dest)


def thin_csv(src: Path, dest: Path, target_bytes: int = CSV_TARGET) -> tuple[int, int]:
    """Write ``src`` thinned to about ``target_bytes`` to ``dest``; return (rows kept, rows).

    The same thinning as a figure's own CSV (``figures.style.thin``): evenly per series, each
    series keeping its first and last point, so each curve keeps its shape."""
    import pandas as pd

    from ..figures.style import series_keys, thin

    data = pd.read_csv(src)
    per_series = len(data)
    by = series_keys(data)
    out = data
    while per_series > 2 and len(out.to_csv(index=False)) > target_bytes:
        per_series = max(2, int(per_series * min(0.8, target_bytes / len(out.to_csv(index=False)))))
        out = thin(data, per_series, by)
    dest.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(dest, index=False)
    return len(out), len(data)


def _display_png(src: Path, dest: Path, width: int) -> bool:
    """The page's copy of a figure: at most ``width`` px wide (Lanczos) and reduced to a
    256-colour palette, which halves a plot's PNG with no visible change (the figure job's own
    PNG and PDF stay as drawn). True if it was downscaled."""
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im:
        rgb = im.convert("RGB")
        downscaled = rgb.width > width
        if downscaled:
            rgb = rgb.resize((width, round(rgb.height * width / rgb.width)), Image.LANCZOS)
        rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dest)
    return downscaled


def copy_figure_files(entry: dict, out_dir: Path, kinds=("png", "csv", "claims_json", "values_json"),
                      hrefs: dict | None = None, budget: int | None = None) -> dict:
    """Copy a figure's files of ``kinds`` into ``assets/<paper>/``; return html-relative hrefs
    (None: missing) and ``notes`` on what was thinned or left out. A PDF is copied only while
    ``budget`` (bytes left in the folder) allows."""
    paper, fig = slug(entry.get("paper")), slug(entry.get("figure"))
    hrefs = {"notes": []} if hrefs is None else hrefs
    for kind in kinds:
        src = entry.get(kind)
        if not src:
            hrefs[kind] = None
            continue
        src = Path(src)
        ext = {"claims_json": ".claims.json", "values_json": ".values.json"}.get(kind, "." + kind)
        # Named by figure id, not source basename, so two papers' "fig03.png" never collide.
        rel = f"assets/{paper}/{fig}{ext}"
        hrefs[kind] = None
        if not src.is_file():
            if kind == "png":
                # Still point the <img> at where the file should be, so the loaded-images
                # counter reports the gap instead of silently counting one figure fewer.
                hrefs["png_missing"] = rel
            continue
        size = src.stat().st_size
        if kind == "csv" and size > CSV_MAX:
            rel = f"assets/{paper}/{fig}.thinned.csv"
            kept, total = thin_csv(src, out_dir / rel)
            hrefs["notes"].append(f"CSV thinned for the report: {kept} of {total} rows (every series kept, "
                                  f"evenly subsampled); the full CSV ({size / 1e6:.1f} MB) is {src}")
        elif kind == "png":
            if _display_png(src, out_dir / rel, PNG_MAX_WIDTH):
                hrefs["notes"].append(f"PNG downscaled to {PNG_MAX_WIDTH} px wide for the report; the full-resolution PNG is {src}")
        elif kind == "pdf" and (size > PDF_MAX or (budget is not None and size > budget)):
            why = "over 1 MB" if size > PDF_MAX else "the report folder's size budget is spent"
            hrefs["notes"].append(f"PDF ({size / 1e6:.1f} MB) not copied into the report ({why}); it is {src}")
            hrefs.setdefault("omitted", set()).add(kind)
            continue
        else:
            _copy(src, out_dir / rel)
        hrefs[kind] = rel
    return hrefs


def copy_pdfs(entries: list[dict], hrefs: list[dict], out_dir: Path) -> None:
    """Each figure's PDF, in page order, while the folder stays under ``BUNDLE_BUDGET``."""
    used = bundle_size(out_dir)
    for e, h in zip(entries, hrefs):
        copy_figure_files(e, out_dir, kinds=("pdf",), hrefs=h, budget=BUNDLE_BUDGET - used)
        if h.get("pdf"):
            used += (out_dir / h["pdf"]).stat().st_size


def copy_run_files(run_files: dict[str, dict[str, str]], out_dir: Path) -> dict[str, dict[str, str]]:
    """``run_files``: run id -> {"spec": path, "provenance": path}; copied to ``runs/<id>/``.
    Returns run id -> {name: href} for the files that exist."""
    out: dict[str, dict[str, str]] = {}
    for rid, files in run_files.items():
        for name, src in files.items():
            if src and Path(src).is_file():
                rel = f"runs/{slug(rid)}/{Path(src).name}"
                _copy(Path(src), out_dir / rel)
                out.setdefault(rid, {})[name] = rel
    return out


def copy_source(module_file: str | None, module: str | None, out_dir: Path) -> str | None:
    """Copy a figure function's module source to ``code/<dotted.module>.py``; return its href."""
    if not module_file or not Path(module_file).is_file():
        return None
    rel = f"code/{slug(module or Path(module_file).stem)}.py"
    _copy(Path(module_file), out_dir / rel)
    return rel


def bundle_size(out_dir: Path) -> int:
    return sum(p.stat().st_size for p in Path(out_dir).rglob("*") if p.is_file())

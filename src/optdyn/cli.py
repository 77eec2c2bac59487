"""The ``optdyn`` command: every Snakemake rule's shell line is one call of it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optdyn.spec.errors import SpecError

EPILOG = """examples:
  optdyn validate                      check config/ for the configured tier
  optdyn validate --tier tiny          ... for another tier
  optdyn plan                          list figure targets and the runs they need
  optdyn plan --tier paper --cost      memory, FLOPs and the smallest device of every run
  optdyn spec figures wsd_fig03 --out f.json   the resolved spec the workflow hands a job
  optdyn schema --write                regenerate workflow/schemas/*.json
The job commands (train, probe, data, figure, claims, report) read the spec file and the paths
their Snakemake rule hands them (`snakemake -n -p <target>` prints their command lines).
Most users run these through Snakemake: `snakemake -c2 wsd_fig03`."""


def _plan(args):
    from optdyn.spec.load import load_plan

    overrides = {k: getattr(args, k) for k in ("results", "resources", "data") if getattr(args, k) is not None}
    return load_plan(args.config, tier=args.tier, papers=args.papers.split(",") if args.papers else None,
                     overrides=overrides)


def one_line(text: str) -> str:
    """An error message as exactly one line: line breaks (and the other characters Python
    splits lines at) inside a name from the config are shown escaped."""
    return "".join(repr(c)[1:-1] if c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029" else c for c in text)


def _start(need_x64: bool) -> None:
    """Process start: the one place the job's precision is set (precision.py)."""
    from optdyn.precision import configure_process

    configure_process(need_x64)


def cmd_validate(args) -> int:
    plan = _plan(args)
    print(f"ok: tier '{plan.tier}', {len(plan.papers)} paper(s), {len(plan.figures)} figure target(s), "
          f"{len(plan.runs)} run(s), {len(plan.deviations)} deviation(s) from the paper")
    return 0


def cmd_plan(args) -> int:
    plan = _plan(args)
    if args.cost:
        return _plan_cost(plan, args.json)
    if args.json:
        print(json.dumps({t: {"runs": f.runs, "groups": f.groups, "seeds": f.seeds, "deviations": f.deviations}
                          for t, f in plan.figures.items()}, indent=2, default=str))
        return 0
    for target, fig in plan.figures.items():
        print(f"{target:14s} {fig.spec.title}")
        for name, rid in fig.runs.items():
            print(f"    run   {name:18s} {rid}  ({plan.runs[rid].spec.steps} steps)")
        for name, pid in fig.probes.items():
            print(f"    probe {name:18s} {pid}  (on {plan.probes[pid].run_id})")
        for name, members in fig.groups.items():
            axes = sorted({k for m in members for k in m["values"]})
            print(f"    group {name:18s} {len(members)} members over {', '.join(axes)}")
        if fig.seeds:
            print(f"    seeds {fig.seeds}: numbers are means, claims read the 95% t-interval")
    return 0


def _plan_cost(plan, as_json: bool) -> int:
    """Per run: parameters, memory per device, FLOPs, the smallest device it fits (train/cost.py)."""
    _start(any(r.spec.dtype == "float64" for r in plan.runs.values()))
    from optdyn.train.cost import summary
    from optdyn.train.plan_cost import check_fits, plan_costs

    failures: dict[str, str] = {}
    costs = plan_costs(plan, progress=None if as_json else lambda rid: print(f"costing {rid} ...", file=sys.stderr),
                       failures=failures)
    if as_json:
        print(json.dumps({rid: {**vars(e), "per_device": e.per_device(), "parts": e.parts(), "fits": e.fit_text(),
                                "flops_total": e.flops_total} for rid, e in costs.items()}
                         | {rid: {"not_costed": why} for rid, why in failures.items()}, indent=2))
    else:
        for rid, run in plan.runs.items():
            line = summary(costs[rid]) if rid in costs else f"not costed: {failures[rid]}"
            print(f"{rid:34s} {run.spec.steps:>7d} steps  {line}")
    if failures:
        rid, why = next(iter(failures.items()))
        raise SpecError(str(plan.config_file), "runs", f"{len(failures)} run(s) not costed",
                        f"runs whose problem builds on the check tier's fake data; first: {rid}: {why}")
    check_fits(plan, costs)
    return 0


def cmd_spec(args) -> int:
    from optdyn.spec.jobs import write_job_spec

    plan = _plan(args)
    have = {"runs": plan.runs, "probes": plan.probes, "figures": plan.figures, "claims": plan.figures,
            "data": plan.datasets, "report": ("tier",)}[args.kind]
    if args.key not in have:
        raise SpecError(str(plan.config_file), args.kind, args.key, f"no such key among the {args.kind} of tier '{plan.tier}'")
    print(f"wrote {write_job_spec(plan, args.kind, args.key, args.out)}")
    return 0


def _run_dir(path) -> Path | None:
    """A run is handed as its folder or as its ``status.json`` (a file the rule declares)."""
    if path is None:
        return None
    path = Path(path)
    return path.parent if path.name == "status.json" else path


def _data_root(dirs: list[str] | None) -> Path | None:
    """Prepared datasets are read as ``<root>/<name>``: the root is the handed folders' parent."""
    roots = {Path(d).parent for d in dirs or []}
    if len(roots) > 1:
        raise SystemExit(f"optdyn: error: --data folders must share one parent; got {sorted(map(str, roots))}")
    return roots.pop() if roots else None


def cmd_train(args) -> int:
    from optdyn.spec.jobs import load_run_job

    run = load_run_job(args.spec)
    _start(run.spec.dtype == "float64")
    from optdyn.train.run import train

    status = train(run, _run_dir(args.out), parent_dir=_run_dir(args.parent), data_root=_data_root(args.data), work_dir=args.work)
    print(json.dumps(status))
    return 0


def cmd_probe(args) -> int:
    from optdyn.spec.jobs import load_probe_job
    from optdyn.train.results import read_run

    probe = load_probe_job(args.spec)
    by_id = {_run_dir(d).name: read_run(_run_dir(d), _data_root(args.data)) for d in args.runs}
    missing = sorted(set(probe.run_ids.values()) - set(by_id))
    if missing:
        raise SystemExit(f"optdyn: error: probe {probe.probe_id} reads runs {missing}, which were not handed to it (--runs)")
    from optdyn.precision import needs_x64

    _start(needs_x64([r.spec for r in by_id.values()], probe.spec))
    from optdyn.probes import measure

    runs = {name: by_id[rid] for name, rid in probe.run_ids.items()}
    print(f"wrote {measure(probe, runs, args.out, args.work)}")
    return 0


def cmd_data(args) -> int:
    from optdyn.data.errors import DataError
    from optdyn.data.prepare import prepare
    from optdyn.spec.jobs import read_job_spec

    entry = read_job_spec(args.spec, "data")
    out = Path(args.out)
    if out.name != entry["dataset"]:
        raise SystemExit(f"optdyn: error: --out must end in the dataset's name '{entry['dataset']}'; got {out}")
    try:
        definition = entry["definition"]
        manifest = prepare(entry["dataset"], definition["kind"], definition["params"], root=out.parent)
    except DataError as exc:
        print(f"optdyn: error: {exc}", file=sys.stderr)
        return 2
    print(f"prepared {out} ({len(manifest['files'])} files, manifest verified)")
    return 0


def cmd_figure(args) -> int:
    from optdyn.spec.jobs import load_figure_job
    from optdyn.train.results import read_run

    fig, paper = load_figure_job(args.spec)
    runs = {_run_dir(d).name: read_run(_run_dir(d)) for d in args.runs or []}
    _start(type(fig.plot).float64 or any(r.spec.dtype == "float64" for r in runs.values()))
    from optdyn.figures.common import draw, read_context, write

    probes = {Path(p).stem: Path(p) for p in args.probes or []}
    write(draw(read_context(fig, paper, runs, probes)), Path(args.out))
    print(f"wrote {args.out}.{{png,pdf,csv,values.json}}")
    return 0


def cmd_claims(args) -> int:
    from optdyn.claims import write_claims
    from optdyn.spec.jobs import load_claims_job, read_job_spec

    target = read_job_spec(args.spec, "claims")["target"]
    rows = write_claims(load_claims_job(args.spec), Path(args.values), Path(args.out))
    for r in rows:
        print(f"{'PASS' if r['passed'] else 'FAIL' if r.get('evaluated', True) else 'N/E '}  {target}.{r['id']}: ours {r['our_value']!r} vs paper {r['paper_value']!r} ({r['tolerance']})")
    return 0


def cmd_report(args) -> int:
    from optdyn.report.collect import build_report
    from optdyn.spec.jobs import read_job_spec

    spec = read_job_spec(args.spec, "report")
    handed = {(Path(p).parent.name, Path(p).stem): Path(p).with_suffix("") for p in args.figures}  # .../<paper>/<key>.png
    stems = {t: handed[f["paper"], f["key"]] for t, f in spec["figures"].items() if (f["paper"], f["key"]) in handed}
    missing = sorted(set(spec["figures"]) - set(stems))
    if missing:
        raise SystemExit(f"optdyn: error: the report was not handed the figures {missing} (--figures)")
    print(f"wrote {build_report(spec, stems, args.out, args.runs or [])}")
    return 0


def cmd_schema(args) -> int:
    from optdyn.spec.schema import check_schemas, write_schemas

    if args.write:
        for path in write_schemas(Path(args.dir)):
            print(f"wrote {path}")
        return 0
    stale = check_schemas(Path(args.dir))
    for path in stale:
        print(f"stale: {path} (run `optdyn schema --write`)")
    return 1 if stale else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="optdyn", description="Declarative reproduction pipeline for optimization-dynamics papers.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="config/config.yaml", help="workflow config (default: %(default)s)")
    common.add_argument("--tier", choices=["tiny", "smoke", "paper", "check"], help="override the config's tier")
    common.add_argument("--papers", help="comma-separated papers to load instead of the config's list")
    common.add_argument("--results", help="override the config's results folder")
    common.add_argument("--resources", help="override the config's resources folder")
    common.add_argument("--data", help="override the config's datasets file (relative to the config's folder)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", parents=[common], help="validate the config and paper files").set_defaults(fn=cmd_validate)
    q = sub.add_parser("plan", parents=[common], help="list figure targets and their runs")
    q.add_argument("--json", action="store_true")
    q.add_argument("--cost", action="store_true", help="per run: parameters, memory per device, FLOPs and the smallest "
                   "device it fits (the paper tier is costed on fake data of the real shapes)")
    q.set_defaults(fn=cmd_plan)
    q = sub.add_parser("spec", parents=[common], help="write one job's resolved spec (what the workflow hands each job)")
    q.add_argument("kind", choices=["runs", "probes", "figures", "claims", "data", "report"])
    q.add_argument("key", help="run id, probe id, figure target, dataset name, or 'tier' for the report")
    q.add_argument("--out", required=True, type=Path)
    q.set_defaults(fn=cmd_spec)
    # job commands: each reads the spec file and the paths its rule hands it, nothing else
    q = sub.add_parser("train", help="train one run (resumes from its work folder)")
    q.add_argument("spec", help="results/<tier>/specs/runs/<run_id>.json")
    q.add_argument("--out", required=True, type=Path, help="the run's folder (or its status.json)")
    q.add_argument("--parent", type=Path, help="the finished parent run's folder or status.json (a branch)")
    q.add_argument("--data", nargs="*", help="prepared dataset folders the run reads")
    q.add_argument("--work", type=Path, help="scratch a killed job resumes from (default: --out)")
    q.set_defaults(fn=cmd_train)
    q = sub.add_parser("probe", help="measure one probe on finished runs")
    q.add_argument("spec", help="results/<tier>/specs/probes/<probe_id>.json")
    q.add_argument("--runs", nargs="+", required=True, help="the runs it reads (folders or their status.json)")
    q.add_argument("--data", nargs="*", help="prepared dataset folders those runs read")
    q.add_argument("--out", required=True, type=Path, help="the probe's parquet table")
    q.add_argument("--work", required=True, type=Path, help="scratch a killed probe resumes from")
    q.set_defaults(fn=cmd_probe)
    q = sub.add_parser("data", help="prepare one dataset (with its manifest)")
    q.add_argument("spec", help="results/<tier>/specs/data/<name>.json")
    q.add_argument("--out", required=True, type=Path, help="resources/data/<name>")
    q.set_defaults(fn=cmd_data)
    q = sub.add_parser("figure", help="draw one figure target (png, pdf, csv, values.json)")
    q.add_argument("spec", help="results/<tier>/specs/figures/<target>.json")
    q.add_argument("--runs", nargs="*", help="the runs it draws (folders or their status.json)")
    q.add_argument("--probes", nargs="*", help="the probe tables it draws")
    q.add_argument("--out", required=True, help="path stem of the outputs")
    q.set_defaults(fn=cmd_figure)
    q = sub.add_parser("claims", help="check one figure's claims")
    q.add_argument("spec", help="results/<tier>/specs/claims/<target>.json")
    q.add_argument("--values", required=True, help="the figure's values.json")
    q.add_argument("--out", required=True, help="claims.json to write")
    q.set_defaults(fn=cmd_claims)
    q = sub.add_parser("report", help="write the tier's HTML report")
    q.add_argument("spec", help="results/<tier>/specs/report/tier.json")
    q.add_argument("--figures", nargs="+", required=True, help="every figure's png (its other files lie beside it)")
    q.add_argument("--runs", nargs="*", default=[], help="the runs' spec.json / provenance.json, copied into the report")
    q.add_argument("--out", required=True, type=Path, help="<folder>/index.html")
    q.set_defaults(fn=cmd_report)
    q = sub.add_parser("schema", help="check (default) or --write the JSON Schemas of the spec")
    q.add_argument("--write", action="store_true")
    q.add_argument("--dir", default="workflow/schemas")
    q.set_defaults(fn=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    """Every refusal of input (a config, a spec file, a dataset) is one line on stderr and exit
    code 2; anything else is a bug and keeps its traceback."""
    from optdyn.data.errors import DataError

    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except (SpecError, DataError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:  # `optdyn plan | head`: the reader left, which is not an error
        sys.stderr.close()
        return 0
    except SystemExit as exc:  # the commands' own `raise SystemExit("optdyn: error: ...")`
        if isinstance(exc.code, str):
            return _fail(exc.code.removeprefix("optdyn: error: "))
        raise


def _fail(message: str) -> int:
    print(f"optdyn: error: {one_line(message)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

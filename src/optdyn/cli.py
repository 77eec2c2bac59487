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
  optdyn train RUN_ID                  train one run (resumes from its last checkpoint)
  optdyn probe PROBE_ID                measure a probe on a finished run
  optdyn data digits                   prepare a dataset of config/data.yaml into resources/data/
  optdyn figure wsd_fig03              draw one figure (png, pdf, csv, values)
  optdyn claims wsd_fig03              check the paper's claims for one figure
  optdyn report                        write results/<tier>/report/index.html
  optdyn schema --write                regenerate workflow/schemas/*.json
Most users run these through Snakemake: `snakemake -c2 wsd_fig03`."""


def _plan(args):
    from optdyn.spec.load import load_plan

    return load_plan(args.config, tier=args.tier, papers=args.papers.split(",") if args.papers else None)


def _plan_with(args, kind: str, key: str):
    """The plan of the first paper that has this run / probe / figure target, loading one paper
    at a time: a job needs only its own paper's files, so `snakemake --config papers=[...]` can
    narrow a workflow without changing any job's command line."""
    from optdyn.spec.load import load_config, load_plan

    if args.papers:
        return _plan(args)
    for paper in load_config(args.config, args.tier).papers:
        plan = load_plan(args.config, tier=args.tier, papers=[paper])
        if key in getattr(plan, kind):
            return plan
    return _plan(args)


def cmd_validate(args) -> int:
    plan = _plan(args)
    print(f"ok: tier '{plan.tier}', {len(plan.papers)} paper(s), {len(plan.figures)} figure target(s), "
          f"{len(plan.runs)} run(s), {len(plan.deviations)} deviation(s) from the paper")
    return 0


def cmd_plan(args) -> int:
    plan = _plan(args)
    if args.json:
        print(json.dumps({t: {"runs": f.runs, "deviations": f.deviations} for t, f in plan.figures.items()}, indent=2, default=str))
        return 0
    for target, fig in plan.figures.items():
        print(f"{target:14s} {fig.spec.title}")
        for name, rid in fig.runs.items():
            print(f"    run   {name:18s} {rid}  ({plan.runs[rid].spec.steps} steps)")
        for name, pid in fig.probes.items():
            print(f"    probe {name:18s} {pid}  (on {plan.probes[pid].run_id})")
    return 0


def cmd_train(args) -> int:
    from optdyn.train.run import train_run

    plan = _plan_with(args, "runs", args.run_id)
    if args.run_id not in plan.runs:
        raise SpecError(str(plan.config_file), "run_id", args.run_id, f"not a run of tier '{plan.tier}'; see `optdyn plan`")
    status = train_run(plan, args.run_id)
    print(json.dumps(status))
    return 0


def cmd_probe(args) -> int:
    from optdyn.probes import run_probe

    plan = _plan_with(args, "probes", args.probe_id)
    if args.probe_id not in plan.probes:
        raise SpecError(str(plan.config_file), "probe_id", args.probe_id, f"not a probe of tier '{plan.tier}'; see `optdyn plan`")
    print(f"wrote {run_probe(plan, args.probe_id)}")
    return 0


def cmd_data(args) -> int:
    from optdyn.data.errors import DataError
    from optdyn.data.prepare import prepare

    plan = _plan(args)
    if args.dataset not in plan.datasets:
        allowed = ", ".join(plan.datasets) or "none (no datasets file)"
        raise SpecError(str(plan.config_file.parent / plan.config.data), "datasets", args.dataset, f"not a dataset; allowed: {allowed}")
    entry = plan.datasets[args.dataset]
    try:
        manifest = prepare(args.dataset, entry["kind"], entry["params"], root=plan.dataset_dir(args.dataset).parent)
    except DataError as exc:
        print(f"optdyn: error: {exc}", file=sys.stderr)
        return 2
    print(f"prepared {plan.dataset_dir(args.dataset)} ({len(manifest['files'])} files, manifest verified)")
    return 0


def cmd_figure(args) -> int:
    from optdyn.figures.common import build, write

    plan = _plan_with(args, "figures", args.target)
    out = build(plan, args.target)
    write(out, plan.figure_stem(args.target))
    print(f"wrote {plan.figure_stem(args.target)}.{{png,pdf,csv,values.json}}")
    return 0


def cmd_claims(args) -> int:
    from optdyn.claims import write_claims

    plan = _plan_with(args, "figures", args.target)
    fig = plan.figure(args.target)
    stem = plan.figure_stem(args.target)
    rows = write_claims(fig.spec.claims, Path(f"{stem}.values.json"), Path(f"{stem}.claims.json"))
    for r in rows:
        print(f"{'PASS' if r['passed'] else 'FAIL'}  {args.target}.{r['id']}: ours {r['our_value']!r} vs paper {r['paper_value']!r} ({r['tolerance']})")
    return 0


def cmd_report(args) -> int:
    from optdyn.report.collect import build_report

    print(f"wrote {build_report(_plan(args), args.out)}")
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
    common.add_argument("--tier", choices=["tiny", "smoke", "paper"], help="override the config's tier")
    common.add_argument("--papers", help="comma-separated papers to load instead of the config's list")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", parents=[common], help="validate the config and paper files").set_defaults(fn=cmd_validate)
    q = sub.add_parser("plan", parents=[common], help="list figure targets and their runs")
    q.add_argument("--json", action="store_true")
    q.set_defaults(fn=cmd_plan)
    q = sub.add_parser("train", parents=[common], help="train one run by id (resumable)")
    q.add_argument("run_id")
    q.set_defaults(fn=cmd_train)
    q = sub.add_parser("probe", parents=[common], help="measure one probe on its finished run")
    q.add_argument("probe_id")
    q.set_defaults(fn=cmd_probe)
    q = sub.add_parser("data", parents=[common], help="prepare one dataset of config/data.yaml (with its manifest)")
    q.add_argument("dataset")
    q.set_defaults(fn=cmd_data)
    for name, fn, text in (("figure", cmd_figure, "draw one figure target"), ("claims", cmd_claims, "check one figure's claims")):
        q = sub.add_parser(name, parents=[common], help=text)
        q.add_argument("target", help="e.g. wsd_fig03")
        q.set_defaults(fn=fn)
    q = sub.add_parser("report", parents=[common], help="write the tier's HTML report")
    q.add_argument("--out", type=Path, help="output folder (default: results/<tier>/report)")
    q.set_defaults(fn=cmd_report)
    q = sub.add_parser("schema", help="check (default) or --write the JSON Schemas of the spec")
    q.add_argument("--write", action="store_true")
    q.add_argument("--dir", default="workflow/schemas")
    q.set_defaults(fn=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except SpecError as exc:
        print(f"optdyn: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `optdyn plan | head`: the reader left, which is not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

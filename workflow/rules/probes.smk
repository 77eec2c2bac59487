# Probes: measurements on finished runs, one job per content-addressed probe id; a probe across
# runs (a landscape through several runs' checkpoints) waits for every run it reads.


def _probe_runs(wc):
    return PLAN.probes[wc.probe_id].run_ids.values()


rule probe:
    input:
        spec=spec_file("probes", "{probe_id}"),
        runs=lambda wc: run_inputs(_probe_runs(wc), checkpoints=True),
        data=lambda wc: ancient(datasets_of(_probe_runs(wc))),  # as a train job's (train.smk)
    output:
        f"{RESULTS}/probes/{{probe_id}}.parquet",
    params:
        status=lambda wc, input: [f for f in input.runs if f.endswith("status.json")],
        work=f"{RESULTS}/work/probes/{{probe_id}}",
    log:
        f"{RESULTS}/logs/probes/{{probe_id}}.log",
    shell:
        "optdyn probe {input.spec:q} --runs {params.status:q} --data {input.data:q} --out {output:q} --work {params.work:q} 2>&1 | tee {log:q}"

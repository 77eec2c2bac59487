# Probes: measurements on finished runs, one job per content-addressed probe id; a probe across
# runs (a landscape through several runs' checkpoints) waits for every run it reads.


rule probe:
    input:
        lambda wc: sorted({run_status(rid) for rid in PLAN.probes[wc.probe_id].run_ids.values()}),
    output:
        f"{RESULTS}/probes/{{probe_id}}.parquet",
    log:
        f"{RESULTS}/logs/probes/{{probe_id}}.log",
    shell:
        "optdyn probe {wildcards.probe_id} {ARGS} 2>&1 | tee {log}"

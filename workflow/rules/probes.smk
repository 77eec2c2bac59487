# Probes: measurements on a finished run, one job per content-addressed probe id.


rule probe:
    input:
        lambda wc: run_status(PLAN.probes[wc.probe_id].run_id),
    output:
        f"{RESULTS}/probes/{{probe_id}}.parquet",
    log:
        f"{RESULTS}/logs/probes/{{probe_id}}.log",
    shell:
        "optdyn probe {wildcards.probe_id} {ARGS} 2>&1 | tee {log}"

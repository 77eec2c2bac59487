# Datasets (config/data.yaml), prepared once into resources/data/<name>/ with a sha256 manifest.
# Real datasets read a local copy; a missing one fails this job with a one-line error naming it.


rule data:
    output:
        dataset_manifest("{dataset}"),
    params:
        spec=lambda wc: digest(PLAN.datasets[wc.dataset]),
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    shell:
        "optdyn data {wildcards.dataset} {ARGS} 2>&1 | tee {log}"

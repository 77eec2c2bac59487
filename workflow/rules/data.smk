# Datasets (config/data.yaml), prepared once into resources/data/<name>/ with a sha256 manifest.
# Real datasets read a local copy; a missing one fails this job with a one-line error naming it.


rule data:
    input:
        # ancient: every tier writes its own copy of this spec, but they all prepare the same
        # folder; the definition's digest (params) is what re-prepares it when it changes
        ancient(spec_file("data", "{dataset}")),
    output:
        directory(dataset_dir("{dataset}")),
    params:
        definition=lambda wc: digest(PLAN.datasets[wc.dataset]),
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    shell:
        "optdyn data {input:q} --out {output:q} 2>&1 | tee {log:q}"

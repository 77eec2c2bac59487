# Training jobs: one per content-addressed run id; a branch waits for its parent.


rule train:
    input:
        lambda wc: [run_status(PLAN.runs[wc.run_id].parent)] if PLAN.runs[wc.run_id].parent else [],
    output:
        f"{RESULTS}/runs/{{run_id}}/status.json",
    params:
        checkpoints=lambda wc: sorted(PLAN.runs[wc.run_id].checkpoint_steps),
    log:
        f"{RESULTS}/logs/train/{{run_id}}.log",
    resources:
        runtime=60,
    shell:
        "optdyn train {wildcards.run_id} {ARGS} 2>&1 | tee {log}"

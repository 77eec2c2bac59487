# Training jobs: one per content-addressed run id; a branch waits for its parent. The run id is
# the hash of everything that changes numbers, so no params are needed to trigger reruns (and a
# new branch point does not retrain its parent: the branch replays it from a checkpoint).


rule train:
    input:
        lambda wc: [run_status(PLAN.runs[wc.run_id].parent)] if PLAN.runs[wc.run_id].parent else [],
        lambda wc: [dataset_manifest(PLAN.runs[wc.run_id].spec.data.dataset)] if PLAN.runs[wc.run_id].dataset else [],
    output:
        f"{RESULTS}/runs/{{run_id}}/status.json",
    log:
        f"{RESULTS}/logs/train/{{run_id}}.log",
    resources:
        runtime=60,
    shell:
        "optdyn train {wildcards.run_id} {ARGS} 2>&1 | tee {log}"

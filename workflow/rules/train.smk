# Training jobs: one per content-addressed run id; a branch waits for its parent. The run id is
# the hash of everything that changes numbers, so no params are needed to trigger reruns (and a
# new branch point does not retrain its parent: the branch replays it from a checkpoint).
# Training resumes from its work folder, which Snakemake never deletes (it deletes a failed
# job's declared outputs before rerunning it).


def _parent(wc):
    return PLAN.runs[wc.run_id].parent


rule train:
    input:
        spec=ancient(spec_file("runs", "{run_id}")),
        parent=lambda wc: run_inputs([_parent(wc)], checkpoints=True) if _parent(wc) else [],
        # ancient: the run id hashes the dataset's definition, and a dataset folder is shared by
        # every tier, so re-preparing it for one tier must not make another tier's runs stale
        data=lambda wc: ancient(datasets_of([wc.run_id])),
    output:
        status=f"{RESULTS}/runs/{{run_id}}/status.json",
        spec=f"{RESULTS}/runs/{{run_id}}/spec.json",
        metrics=f"{RESULTS}/runs/{{run_id}}/metrics.parquet",
        provenance=f"{RESULTS}/runs/{{run_id}}/provenance.json",
        checkpoints=directory(f"{RESULTS}/runs/{{run_id}}/checkpoints"),
    params:
        parent=lambda wc, input: ["--parent", input.parent[0]] if input.parent else [],
        work=f"{RESULTS}/work/runs/{{run_id}}",
    log:
        f"{RESULTS}/logs/train/{{run_id}}.log",
    resources:
        runtime=60,
    shell:
        "optdyn train {input.spec:q} --out {output.status:q} {params.parent:q} --data {input.data:q} --work {params.work:q} 2>&1 | tee {log:q}"

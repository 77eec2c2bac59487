# The tier's HTML report: every figure beside the paper's claims, our verdicts and provenance.
# The runs' spec.json / provenance.json are inputs so each figure card can link them in the bundle.


rule report:
    input:
        spec=spec_file("report", "tier"),
        figures=[f for t in PLAN.figures for f in figure_files(t)],
        runs=[f"{run_dir(r)}/{n}" for r in sorted(PLAN.runs) for n in ("spec.json", "provenance.json")],
    output:
        f"{RESULTS}/report/index.html",
    params:
        pngs=lambda wc, input: [f for f in input.figures if f.endswith(".png")],
    shell:
        "optdyn report {input.spec:q} --figures {params.pngs:q} --runs {input.runs:q} --out {output:q}"

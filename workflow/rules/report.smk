# The tier's HTML report: every figure beside the paper's claims and our verdicts.


rule report:
    input:
        spec=spec_file("report", "tier"),
        figures=[f for t in PLAN.figures for f in figure_files(t)],
    output:
        f"{RESULTS}/report/index.html",
    params:
        pngs=lambda wc, input: [f for f in input.figures if f.endswith(".png")],
    shell:
        "optdyn report {input.spec:q} --figures {params.pngs:q} --out {output:q}"

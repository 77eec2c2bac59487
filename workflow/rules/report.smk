# The tier's HTML report: every figure beside the paper's claims and our verdicts.


rule report:
    input:
        [f for t in PLAN.figures for f in figure_files(t)],
    output:
        f"{RESULTS}/report/index.html",
    params:
        deviations=digest(PLAN.deviations),
    shell:
        "optdyn report {ARGS}"

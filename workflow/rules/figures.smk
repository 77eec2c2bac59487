# Figures and their claim checks; one named target per figure (e.g. `snakemake wsd_fig03`).


rule figure:
    input:
        spec=f"{RESULTS}/specs/figures/{{paper}}_{{fig}}.json",
        runs=lambda wc: run_inputs(figure_of(wc).runs.values()),
        probes=lambda wc: [str(PLAN.probe_path(pid)) for pid in figure_of(wc).probes.values()],
    output:
        png=report(f"{RESULTS}/figures/{{paper}}/{{fig}}.png", caption="../report/figure.rst", category="{paper}", subcategory="{fig}"),
        pdf=f"{RESULTS}/figures/{{paper}}/{{fig}}.pdf",
        csv=f"{RESULTS}/figures/{{paper}}/{{fig}}.csv",
        values=f"{RESULTS}/figures/{{paper}}/{{fig}}.values.json",
    params:
        status=lambda wc, input: [f for f in input.runs if f.endswith("status.json")],
        stem=lambda wc, output: output.png[: -len(".png")],
    log:
        f"{RESULTS}/logs/figures/{{paper}}_{{fig}}.log",
    shell:
        "optdyn figure {input.spec:q} --runs {params.status:q} --probes {input.probes:q} --out {params.stem:q} 2>&1 | tee {log:q}"


rule claims:
    input:
        spec=f"{RESULTS}/specs/claims/{{paper}}_{{fig}}.json",
        values=f"{RESULTS}/figures/{{paper}}/{{fig}}.values.json",
    output:
        f"{RESULTS}/figures/{{paper}}/{{fig}}.claims.json",
    shell:
        "optdyn claims {input.spec:q} --values {input.values:q} --out {output:q}"


for _target in PLAN.figures:

    rule:
        name:
            _target
        input:
            figure_files(_target),


for _paper in PLAN.papers:

    rule:
        name:
            _paper
        input:
            [f for t, fig in PLAN.figures.items() if fig.paper == _paper for f in figure_files(t)],

# Figures and their claim checks; one named target per figure (e.g. `snakemake wsd_fig03`).


rule figure:
    input:
        runs=lambda wc: [run_status(rid) for rid in figure_of(wc).runs.values()],
        probes=lambda wc: [str(PLAN.probe_path(pid)) for pid in figure_of(wc).probes.values()],
    output:
        png=report(f"{RESULTS}/figures/{{paper}}/{{fig}}.png", caption="../report/figure.rst", category="{paper}", subcategory="{fig}"),
        pdf=f"{RESULTS}/figures/{{paper}}/{{fig}}.pdf",
        csv=f"{RESULTS}/figures/{{paper}}/{{fig}}.csv",
        values=f"{RESULTS}/figures/{{paper}}/{{fig}}.values.json",
    params:
        spec=lambda wc: digest([figure_of(wc).spec.model_dump(mode="json", exclude={"claims"}), figure_of(wc).runs]),
    log:
        f"{RESULTS}/logs/figures/{{paper}}_{{fig}}.log",
    shell:
        "optdyn figure {wildcards.paper}_{wildcards.fig} {ARGS} 2>&1 | tee {log}"


rule claims:
    input:
        f"{RESULTS}/figures/{{paper}}/{{fig}}.values.json",
    output:
        f"{RESULTS}/figures/{{paper}}/{{fig}}.claims.json",
    params:
        claims=lambda wc: digest([c.model_dump(mode="json") for c in figure_of(wc).spec.claims]),
    shell:
        "optdyn claims {wildcards.paper}_{wildcards.fig} {ARGS}"


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

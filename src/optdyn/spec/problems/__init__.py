"""Typed configs of each paper's own problems (toy losses, small analytic models) and probes.

Each module ``spec/problems/<paper>.py`` defines model config classes (pydantic, a
``name: Literal[...]`` discriminator each) registered with ``@model_spec("<paper>")``
(``data=...``: the data they train on; none: the data is part of the problem, e.g. a synthetic
matrix-completion instance drawn from the model's seed), and probe config classes (a
``kind: Literal[...]`` discriminator each) registered with ``@probe_spec("<paper>")``.
``spec/components.py`` and ``spec/probes.py`` join the registered classes into the spec's tagged
unions (``optdyn.registry``), so adding a problem never touches another paper's file.
"""

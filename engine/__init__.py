"""aftersales decision engine: load → compile → evaluate → explain.

    engine/loading/      YAML rule files → the decision model (yamlsource, compiler)
    engine/language/     the expression language: parser and type checker, the function
                         whitelist, three-valued conditions
    engine/evaluation/   a case → a decision: reading the case, derived facts and stages, the
                         matching backends (durable-rules, plain Python), hit policies and who
                         decided each output (resolution)
    engine/explanation/  which rules fired with the facts they read; what did not fire and why
    engine/tooling/      policy-owner tools on top of the core: check, rule tests, impact, why-not
                         (the core never imports them: .importlinter)
    model.py, types.py, errors.py, calendar.py   shared by every step
    rulebook.py          the Python API: load a folder, decide a case

See docs/architecture.md.
"""

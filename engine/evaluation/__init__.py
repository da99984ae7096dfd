"""Evaluation: a case read against the declared inputs (case), derived facts and stages
(evaluate), which rules match (backends), hit policies and who decided each output (resolution)."""

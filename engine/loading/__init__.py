"""Loading: rule files (YAML, bounded and located) into the decision model (engine.model)."""

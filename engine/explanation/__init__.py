"""Explanation: the fired rules with the facts they read, the rules that did not fire and the
first condition that failed (explain); a recorded run of one case for the tools (trace)."""

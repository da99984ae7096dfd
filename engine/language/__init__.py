"""The expression language of the rule files: parser and type checker (expressions), the
whitelist of functions (functions), what the compiler records on an expression for the tools
(recorded), and the condition tree's one walker with three-valued logic built on it (conditions)."""

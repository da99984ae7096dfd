"""The expression language of the rule files: parser and type checker (expressions), the
whitelist of functions (functions), conditions in three-valued logic (conditions)."""

"""The `aftersales` command: the layer above both the engine and the HTTP API.

It reads command-line arguments and files, calls `engine` (deciding, the policy-owner tools) and,
for `serve` and `impact --log`, `api`; neither of those ever imports it (.importlinter).
"""

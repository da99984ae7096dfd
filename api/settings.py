"""Service settings: environment variables, optionally a YAML config file for tokens.

| variable | default | meaning |
|---|---|---|
| AFTERSALES_RULES | rules | the rules folder: imported into an empty database; in development mode, each saved change |
| AFTERSALES_MODE | production | `development`: each saved change of the rules folder becomes the active release at once, without review (`make run`); `production`: releases go through the workflow |
| AFTERSALES_DATABASE_URL | (SQLite at var/decisions.db) | postgresql://… for production |
| AFTERSALES_VAR | var | where the embedded database, metrics and the rules verdict shared by the workers live |
| AFTERSALES_ENGINE | durable | matching backend: durable or python |
| AFTERSALES_TOKENS | (none) | `name:token:role+role,…` (roles: decide, audit, admin, author, approver) |
| AFTERSALES_CONFIG | (none) | YAML file with `tokens: [{name, token, roles}]` |
| AFTERSALES_MAX_BODY_BYTES | 1048576 | request body limit |
| AFTERSALES_MAX_BATCH | 1000 | cases per batch |
| AFTERSALES_RELOAD_INTERVAL | 0.5 | seconds between checks of the active release (and of the folder in development mode); 0 disables watching |
| AFTERSALES_IMPACT_DAYS | 30 | the evidence of a submitted release replays the decisions logged in these last days |
| AFTERSALES_DURABILITY | power-loss | what a logged decision survives once its response is sent (SQLite log): `power-loss` (fsync per commit, `synchronous=FULL`) or `process-crash` (survives `kill -9` of the server, not a power cut; `synchronous=NORMAL`, faster: bench/RESULTS.md) |
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .decision_log.sqlite import DEFAULT_DURABILITY, DURABILITY

ROLES = ("decide", "audit", "admin", "author", "approver")
MODES = ("production", "development")
MAX_IMPACT_DAYS = 3660


@dataclass(frozen=True)
class Token:
    name: str
    roles: frozenset


class SettingsError(ValueError):
    """A setting the service cannot start with; the message names the variable or file."""


@dataclass
class Settings:
    rules_dir: Path = Path("rules")
    database_url: str | None = None
    var_dir: Path = Path("var")
    backend: str = "durable"
    tokens: dict = field(default_factory=dict)  # secret → Token
    max_body_bytes: int = 1024 * 1024
    max_batch: int = 1000
    reload_interval: float = 0.5
    development: bool = False
    impact_days: int = 30
    durability: str = DEFAULT_DURABILITY

    @property
    def open_access(self) -> bool:
        """No tokens configured: local development, loopback only."""
        return not self.tokens

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        s = cls(rules_dir=Path(env.get("AFTERSALES_RULES", "rules")),
                database_url=env.get("AFTERSALES_DATABASE_URL") or None,
                var_dir=Path(env.get("AFTERSALES_VAR", "var")),
                backend=env.get("AFTERSALES_ENGINE", "durable"))
        for attr, var, conv in (("max_body_bytes", "AFTERSALES_MAX_BODY_BYTES", int),
                                ("max_batch", "AFTERSALES_MAX_BATCH", int),
                                ("reload_interval", "AFTERSALES_RELOAD_INTERVAL", float),
                                ("impact_days", "AFTERSALES_IMPACT_DAYS", int)):
            if env.get(var):
                try:
                    setattr(s, attr, conv(env[var]))
                except ValueError:
                    raise SettingsError(f"{var}={env[var]!r} is not a number") from None
        if not 0 <= s.impact_days <= MAX_IMPACT_DAYS:
            raise SettingsError(f"AFTERSALES_IMPACT_DAYS must be from 0 to {MAX_IMPACT_DAYS}")
        s.durability = env.get("AFTERSALES_DURABILITY") or DEFAULT_DURABILITY
        if s.durability not in DURABILITY:
            raise SettingsError(f"AFTERSALES_DURABILITY={s.durability!r}: expected {' or '.join(DURABILITY)}")
        mode = env.get("AFTERSALES_MODE", "production")
        if mode not in MODES:
            raise SettingsError(f"AFTERSALES_MODE={mode!r}: expected {' or '.join(MODES)}")
        s.development = mode == "development"
        if env.get("AFTERSALES_TOKENS"):
            s.tokens.update(parse_tokens(env["AFTERSALES_TOKENS"]))
        if env.get("AFTERSALES_CONFIG"):
            s.tokens.update(read_token_file(Path(env["AFTERSALES_CONFIG"])))
        return s


def _token(name, secret, roles, where) -> tuple[str, Token]:
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise SettingsError(f"{where}: roles must be among {', '.join(ROLES)}, got {', '.join(roles) or 'none'}")
    if len(secret) < 16:
        raise SettingsError(f"{where}: the token of {name!r} is shorter than 16 characters")
    return secret, Token(name, frozenset(roles))


def parse_tokens(text: str) -> dict:
    out = {}
    for i, item in enumerate(filter(None, (p.strip() for p in text.split(","))), start=1):
        parts = item.split(":")
        if len(parts) != 3:
            raise SettingsError(f"AFTERSALES_TOKENS item {i}: expected name:token:role+role")
        secret, token = _token(parts[0], parts[1], parts[2].split("+"), f"AFTERSALES_TOKENS item {i}")
        out[secret] = token
    return out


def read_token_file(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SettingsError(f"{path}: {e}") from None
    out = {}
    for i, t in enumerate(doc.get("tokens") or [], start=1):
        if not isinstance(t, dict) or not {"name", "token", "roles"} <= set(t):
            raise SettingsError(f"{path}: token {i} needs name, token and roles")
        secret, token = _token(str(t["name"]), str(t["token"]), [str(r) for r in t["roles"]], f"{path}: token {i}")
        out[secret] = token
    return out

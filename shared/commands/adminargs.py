"""What the admin subcommands share: the storage options, the signed-in user, the school's time zone, and
turning every expected failure into one line on standard error (exit 2 for input, 1 for the service)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shared.admin.annotate import NotFound
from shared.admin.context import Admin, open_admin
from shared.admin.validate import InvalidInput
from shared.commands.common import EXIT_BAD_INPUT, EXIT_FAILED, one_line
from shared.settings import SettingsError, load_settings
from shared.store.connection import PLATFORM_STORAGE, StorageConfig, StorageConfigError
from shared.store.tables import open_stores


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("storage (default: the app's own setting, AzureWebJobsStorage)")
    group.add_argument("--connection-string", metavar="TEXT",
                       help="storage connection string (UseDevelopmentStorage=true for Azurite)")
    group.add_argument("--account-name", metavar="NAME",
                       help="storage account name, signed in with DefaultAzureCredential (az login)")
    group.add_argument("--table-prefix", default="", help=argparse.SUPPRESS)


def add_by_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", metavar="NAME", help="who is doing this (default: the signed-in user name)")


def who(args: argparse.Namespace) -> str:
    given = getattr(args, "by", None)
    if given:
        return str(given)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def storage_config(args: argparse.Namespace) -> StorageConfig:
    """The account the command names, with a short timeout: unreachable storage is one line within seconds."""
    if args.connection_string:
        return StorageConfig.from_connection_string(args.connection_string).for_command()
    if args.account_name:
        return StorageConfig.from_env({f"{PLATFORM_STORAGE}__accountName": args.account_name}).for_command()
    return StorageConfig.from_env(os.environ).for_command()


def zone() -> ZoneInfo:
    return load_settings({k: v for k, v in os.environ.items() if k == "VCAUDIT_TIME_ZONE"}).zone


def open_from_args(args: argparse.Namespace) -> Admin:
    stores = open_stores(storage_config(args), prefix=args.table_prefix)
    return open_admin(stores, zone())


def now() -> datetime:
    return datetime.now(tz=UTC)


def guarded(body: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a subcommand; expected failures become one line on standard error, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

        try:
            return body(args)
        except (InvalidInput, NotFound, StorageConfigError, SettingsError) as exc:
            sys.stderr.write(f"vcaudit: {one_line(exc)}\n")
            return EXIT_BAD_INPUT
        except ClientAuthenticationError as exc:
            sys.stderr.write(f"vcaudit: storage refused the credentials: {one_line(_first_line(exc))}\n")
            return EXIT_FAILED
        except HttpResponseError as exc:
            sys.stderr.write(f"vcaudit: storage answered {exc.status_code}: {one_line(_first_line(exc))}\n")
            return EXIT_FAILED
        except AzureError as exc:
            sys.stderr.write(f"vcaudit: storage could not be reached: {one_line(_first_line(exc))}\n")
            return EXIT_FAILED

    return run


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


Handler = Callable[[argparse.Namespace], int]


def register_handler(parser: argparse.ArgumentParser, body: Handler) -> None:
    parser.set_defaults(handler=guarded(body))

"""Version locations of an Alembic configuration, read the way Alembic reads them.

``check``, ``chain`` and ``graph --config`` accept ``alembic.ini``, ``pyproject.toml``
(``[tool.alembic]``, Alembic >= 1.16) or both, and ``--name`` sections of an ini file.
The values come from Alembic's own ``Config`` and ``ScriptDirectory.from_config`` of the
installed version, so ``%(here)s`` and other interpolation, ``path_separator`` /
``version_path_separator`` (and the legacy split on spaces and commas),
``recursive_version_locations``, the default ``<script_location>/versions`` and
``package:path`` resources mean exactly what they mean to ``alembic`` itself. What
Alembic would raise, or silently accept while pointing at nothing, becomes a
:class:`ConfigError` that names the file and what is wrong.

Alembic is imported here, lazily by the CLI: ``import alembic_git_revisions`` never
loads it.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import os
import pathlib
import re
import sys
import tomllib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal

#: The ini section Alembic reads unless ``-n/--name`` says otherwise.
DEFAULT_SECTION = "alembic"


class ConfigError(ValueError):
    """An Alembic configuration that cannot be read, or that points at nothing."""


@dataclasses.dataclass(frozen=True)
class VersionLocation:
    """One entry of ``version_locations`` (or the default ``<script_location>/versions``)."""

    #: Absolute, as Alembic computes it (relative entries are relative to the current
    #: directory, as for ``alembic`` itself).
    path: pathlib.Path
    #: ``recursive_version_locations``: Alembic also loads migrations from every
    #: subdirectory, and they form one chain with those directly in it.
    recursive: bool = False

    @property
    def scope(self) -> Literal["flat", "recursive"]:
        """The core's name for how far the location reaches."""
        return "recursive" if self.recursive else "flat"


@dataclasses.dataclass(frozen=True)
class AlembicConfig:
    """What one ``[alembic]`` section (or ``[tool.alembic]`` table) says about migrations."""

    #: The files read: the ini file, the pyproject.toml, or both.
    files: tuple[pathlib.Path, ...]
    #: The ini section (``-n/--name``); ``[tool.alembic]`` has no other name.
    section: str
    script_location: pathlib.Path
    locations: tuple[VersionLocation, ...]


def _is_toml(path: pathlib.Path) -> bool:
    return path.suffix.lower() == ".toml"


def _alembic_version() -> str:
    from alembic import __version__

    return __version__


def supports_toml() -> bool:
    from alembic.config import Config

    # Alembic >= 1.16; older versions ignore pyproject.toml altogether.
    return hasattr(Config, "toml_alembic_config")


def _config_files(
    paths: Sequence[pathlib.Path],
) -> tuple[pathlib.Path | None, pathlib.Path | None]:
    """``(ini, toml)``: the files given, each completed by its companion beside it.

    As with ``alembic -c``, at most one ini file and one pyproject.toml. Alembic looks
    for the companion (``alembic.ini`` next to a pyproject.toml and the other way round)
    in the current directory; we look beside the file given, which is the same thing
    when run from the project directory and the right thing when run from elsewhere.
    """
    ini: pathlib.Path | None = None
    toml: pathlib.Path | None = None
    for path in paths:
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise ConfigError(f"Alembic configuration {path} {what}")
        if _is_toml(path):
            if toml is not None:
                raise ConfigError(f"give one pyproject.toml, not two ({toml}, {path})")
            toml = path
        else:
            if ini is not None:
                raise ConfigError(f"give one Alembic ini file, not two ({ini}, {path})")
            ini = path
    if toml is not None and not supports_toml():
        raise ConfigError(
            f"{toml}: reading [tool.alembic] from pyproject.toml needs Alembic 1.16 or "
            f"newer; Alembic {_alembic_version()} is installed"
        )
    if ini is None and toml is not None and (toml.parent / "alembic.ini").is_file():
        ini = toml.parent / "alembic.ini"
    if toml is None and ini is not None and supports_toml():
        beside = ini.parent / "pyproject.toml"
        if beside.is_file():
            toml = beside
    return ini, toml


def _toml_table(toml: pathlib.Path) -> dict[str, Any] | None:
    """``[tool.alembic]`` of *toml*, or None if it has none; checked for shape."""
    try:
        with toml.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot parse {toml}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {toml}: {exc.strerror or exc}") from None
    tool = data.get("tool", {})
    table = tool.get("alembic") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{toml}: tool.alembic must be a table, not {type(table).__name__}")
    for key in ("script_location",):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{toml}: [tool.alembic] {key} must be a string")
    locations = table.get("version_locations")
    if locations is not None and not (
        isinstance(locations, list) and all(isinstance(item, str) for item in locations)
    ):
        # Alembic would iterate over a string's characters.
        raise ConfigError(f"{toml}: [tool.alembic] version_locations must be a list of strings")
    recursive = table.get("recursive_version_locations")
    if recursive is not None and not isinstance(recursive, bool):
        raise ConfigError(
            f"{toml}: [tool.alembic] recursive_version_locations must be true or false"
        )
    return table


@contextlib.contextmanager
def _alembic_side_effects() -> Iterator[None]:
    """Let Alembic resolve paths as it does, then undo what it leaves behind.

    ``from_config`` prepends ``prepend_sys_path`` to ``sys.path`` (needed while a
    ``package:path`` location is resolved) and warns about deprecated settings (which
    ``alembic`` itself does not show either: they are DeprecationWarnings).
    """
    saved = list(sys.path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        sys.path[:] = saved


def read_config(
    paths: Sequence[str | os.PathLike[str]],
    *,
    sections: Sequence[str] = (DEFAULT_SECTION,),
    anchor: pathlib.Path | None = None,
) -> list[AlembicConfig]:
    """The script and version locations of each ini *section* (``-n``) of *paths*.

    *paths* is an ini file, a pyproject.toml, or one of each. Relative locations are
    relative to the current directory, as for ``alembic`` itself, or to *anchor* when
    given (the scope rule reads a configuration from wherever the process runs: see
    ``_scope``); with *anchor*, a version location that does not exist is kept (Alembic
    skips it) instead of refused. Raises :class:`ConfigError` naming the file for
    anything Alembic could not use: a file that is missing or does not parse, no
    ``[alembic]`` / ``[tool.alembic]``, no ``script_location``, a script or version
    location that does not exist.
    """
    ini, toml = _config_files([pathlib.Path(p) for p in paths])
    if ini is None and toml is None:
        raise ConfigError("give an Alembic configuration file (alembic.ini or pyproject.toml)")
    table = _toml_table(toml) if toml is not None else None
    return [_read_section(ini, toml, table, section, anchor) for section in dict.fromkeys(sections)]


def configured_sections(path: pathlib.Path) -> list[str]:
    """The sections of the configuration *path* (with its companion beside it, as
    :func:`read_config` reads it) that configure an Alembic project: the ini sections
    naming a ``script_location`` (each selected by ``-n``), and ``[DEFAULT_SECTION]`` for
    ``[tool.alembic]`` naming one. Empty when it configures none (an ini file holding
    only logging settings, a pyproject.toml of another tool).

    Raises :class:`ConfigError` for a file that cannot be read or parsed.
    """
    ini, toml = _config_files([path])
    sections: list[str] = []
    if ini is not None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with ini.open(encoding="utf-8") as handle:
                parser.read_file(handle)
        except configparser.Error as exc:
            raise ConfigError(f"cannot parse {ini}: {_one_line(exc)}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {ini}: {_one_line(exc)}") from None
        sections = [s for s in parser.sections() if parser.has_option(s, "script_location")]
    if toml is not None and DEFAULT_SECTION not in sections:
        table = _toml_table(toml)
        if table is not None and "script_location" in table:
            sections.append(DEFAULT_SECTION)
    return sections


def _anchor_script_location(config: Any, anchor: pathlib.Path) -> None:
    """Make a relative ``script_location`` relative to *anchor* instead of the current
    directory (a ``package:path`` resource is left as it is, as Alembic reads it)."""
    getter = getattr(config, "get_alembic_option", None) or config.get_main_option
    raw = getter("script_location")
    if isinstance(raw, str) and raw and not os.path.isabs(raw) and ":" not in raw:
        # set_main_option interpolates: a literal % is written %%.
        config.set_main_option("script_location", os.fspath(anchor / raw).replace("%", "%%"))


def _anchored_locations(script: Any, anchor: pathlib.Path) -> list[pathlib.Path]:
    """``script._version_locations`` with relative entries relative to *anchor*."""
    from alembic.util import coerce_resource_to_filename

    if not script.version_locations:
        # script.dir is anchored already.
        return [pathlib.Path(script.dir, "versions").absolute()]
    located = [pathlib.Path(coerce_resource_to_filename(raw)) for raw in script.version_locations]
    return [path if path.is_absolute() else anchor / path for path in located]


def _read_section(
    ini: pathlib.Path | None,
    toml: pathlib.Path | None,
    table: dict[str, Any] | None,
    section: str,
    anchor: pathlib.Path | None = None,
) -> AlembicConfig:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    files = tuple(p for p in (ini, toml) if p is not None)
    named = " and ".join(str(p) for p in files)
    if toml is not None:
        config = Config(file_=ini, toml_file=toml, ini_section=section)  # type: ignore[call-arg]
    else:
        config = Config(file_=ini, ini_section=section)
    with _alembic_side_effects():
        try:
            parser = config.file_config
        except configparser.Error as exc:
            raise ConfigError(f"cannot parse {ini}: {_one_line(exc)}") from None
        # Without an ini file, Alembic makes up an empty [alembic] section.
        in_ini = ini is not None and parser.has_section(section)
        if not in_ini and table is None:
            raise ConfigError(_no_section_message(ini, toml, parser, section))
        if ini is not None and section != DEFAULT_SECTION and not in_ini:
            # -n names an ini section; [tool.alembic] has no other name.
            raise ConfigError(_no_section_message(ini, None, parser, section))
        try:
            if anchor is not None:
                _anchor_script_location(config, anchor)
            script = ScriptDirectory.from_config(config)
            if anchor is not None:
                raw_locations = _anchored_locations(script, anchor)
            else:
                raw_locations = script._version_locations
        except CommandError as exc:
            raise ConfigError(_command_error_message(named, section, toml, exc)) from None
        except (configparser.Error, ValueError, TypeError, KeyError) as exc:
            # Interpolation of a missing %(name)s, a bad path_separator, a TOML value of
            # a type Alembic does not expect.
            raise ConfigError(f"{named}: {_one_line(exc)}") from None
        except ImportError as exc:
            raise ConfigError(
                f"{named}: cannot resolve a package location ({_one_line(exc)})"
            ) from None
    # Alembic < 1.10 has no recursive_version_locations (and ignores the setting).
    recursive = bool(getattr(script, "recursive_version_locations", False))
    locations = []
    for raw in raw_locations:
        path = pathlib.Path(raw)
        if anchor is None and not path.is_dir():
            what = "is not a directory" if path.exists() else "does not exist"
            raise ConfigError(f"{named}: version location {path} {what}")
        locations.append(VersionLocation(path, recursive))
    return AlembicConfig(files, section, pathlib.Path(script.dir), tuple(locations))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _no_section_message(
    ini: pathlib.Path | None,
    toml: pathlib.Path | None,
    parser: configparser.ConfigParser,
    section: str,
) -> str:
    if ini is None:
        return f"{toml} has no [tool.alembic] table"
    message = f"{ini} has no [{section}] section"
    if toml is not None:
        message += f" and {toml} has no [tool.alembic] table"
    candidates = [s for s in parser.sections() if parser.has_option(s, "script_location")]
    if candidates:
        message += f" (sections with a script_location: {', '.join(candidates)}; use -n)"
    return message


def _command_error_message(
    named: str, section: str, toml: pathlib.Path | None, exc: Exception
) -> str:
    text = _one_line(exc)
    if "script_location" in text:
        where = f"[{section}]" + (" or [tool.alembic]" if toml is not None else "")
        return f"{named}: no script_location in {where}"
    missing = re.match(r"Path doesn't exist: '?(.*?)'?\. +Please", text)
    if missing:
        # "Path doesn't exist: <dir>. Please use the 'init' command ..." (quoted < 1.16)
        return f"{named}: script_location {missing[1]} does not exist"
    return f"{named}: {text}"


def holds_migrations(location: VersionLocation) -> bool:
    """Whether *location* holds a migration Alembic would load: directly in it, or, for
    a recursive location, anywhere below it."""
    from alembic_git_revisions import _native

    try:
        return bool(_native.list_migrations(location.path, scope=location.scope))
    except OSError:
        return False

"""Failures of the command line: one line on stderr and an exit code, never a traceback.

Before any work the arguments are checked: the input file exists, is a
readable UTF-8 file and is the kind of file the command takes (a case, sweep
or fit file); the output path can be created and written. Whatever a command
raises afterwards becomes one line (``confine --debug`` shows the traceback).

Exit codes:
    0: success.
    1: the work failed: no convergence, a failed sweep point or fit, an output
       that cannot be written, an unexpected error.
    2: the command line or an input file is wrong (nothing ran).
    3: a part of confine (or dolfinx) that is not available.
    130: interrupted (Ctrl-C); 141: stdout closed by its reader (``confine keys | head``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath
from types import TracebackType
from typing import Any

from confine.case import CaseError, load_case
from confine.env import RUN_CHOICES, run_choice
from confine.failure import is_solver_failure, summary
from confine.io import FAILURE_FILE

EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_UNAVAILABLE = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141

#: The input file of each command: (argument, kind of file it must be).
INPUTS = {
    "validate": ("case", "case"),
    "mesh": ("case", "case"),
    "run": ("case", "case"),
    "bench": ("case", "case"),
    "sweep": ("sweep", "sweep"),
    "fit": ("fit", "fit"),
}
#: The output of each command's ``--out``: a directory written into, one
#: replaced as a whole (a temporary sibling renamed over it), or a file.
OUTPUTS = {
    "mesh": "dir",
    "sweep": "dir",
    "fit": "dir",
    "bench": "dir",
    "run": "replaced",
    "keys": "file",
}
#: How to run each kind of file.
USE = {
    "case": "confine run {} --out DIR",
    "sweep": "confine sweep {} --out DIR",
    "fit": "confine fit {} --out DIR",
}
#: An OSError in an error message: "[Errno 13] Permission denied: 'meshes/x'".
_ERRNO = re.compile(r"\[Errno \d+\] (.*)$")
MESH_CACHE_HINT = "choose a writable location with --mesh-cache DIR or CONFINE_MESH_CACHE=DIR"


class UsageError(Exception):
    """A wrong command line or input (exit 2 unless ``code`` says otherwise)."""

    def __init__(self, message: str, code: int = EXIT_INVALID):
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments where it is unpickled (a pool worker's failure)
        return (type(self), (self.message, self.code))


def key_value(item: str) -> str:
    """argparse type of ``--set``: KEY=VALUE (a usage error, exit 2, otherwise)."""
    if "=" not in item:
        raise argparse.ArgumentTypeError(
            f"{item!r}: expected KEY=VALUE, e.g. --set 'geometry.pore_diameter=\"4 nm\"'"
        )
    return item


def guarded(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Check the arguments, run the command and turn what it raises into one line.

    Args:
        command: the ``cmd_*`` function.
        args: the parsed arguments; ``args.debug`` re-raises errors (traceback).

    Returns:
        The exit code.
    """
    try:
        check_arguments(args)
        code = command(args)
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return code
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if getattr(args, "debug", False):
            raise
        text, code = describe(err, args)
        if rank() == 0 or not is_solver_failure(err):  # collective: rank 0 speaks
            print(text, file=sys.stderr)
        return code


def _drop_stdout() -> None:
    """Point stdout at /dev/null so that Python's exit-time flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def rank() -> int:
    """MPI rank from the launcher's environment (mpi4py need not be loaded)."""
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


# --------------------------------------------------------------------------- checks
def check_arguments(args: argparse.Namespace) -> None:
    """The input file and the output path of a command, and the run's choices made by
    environment variables, before any work.

    Raises:
        UsageError: naming the path or variable and what is wrong with it.
    """
    for name in RUN_CHOICES:
        try:
            run_choice(name)
        except ValueError as err:
            raise UsageError(str(err)) from None
    command = getattr(args, "command", None)
    if command in INPUTS:
        attr, kind = INPUTS[command]
        if getattr(args, attr, None) is not None:
            check_input(Path(getattr(args, attr)), kind)
    if command in OUTPUTS and getattr(args, "out", None) is not None:
        check_output(Path(args.out), OUTPUTS[command])


def check_input(path: Path, kind: str) -> None:
    """An existing, readable UTF-8 file of ``kind`` ("case", "sweep" or "fit").

    A file that is not valid TOML passes: its loader says where it is broken.
    """
    what = f"a {kind} file (TOML)"
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, expected {what}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UsageError(f"{path}: cannot read it ({err.strerror})") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(
            f"{path}: not a text file (byte 0x{data[err.start]:02x} at offset {err.start} "
            f"is not UTF-8), expected {what}"
        ) from err
    try:
        raw = tomllib.loads(text)
    except (ValueError, RecursionError):  # malformed, nested too deeply, huge integers
        return  # its loader says where it is broken
    found = "sweep" if "sweep" in raw else "fit" if "fit" in raw else "case"
    if found != kind:
        raise UsageError(f"{path}: this is a {found} file: use `{USE[found].format(path)}`")


def check_output(path: Path, mode: str) -> None:
    """``path`` can be created (missing parents too) and written.

    Args:
        path: the ``--out`` argument.
        mode: "dir" (written into), "replaced" (a sibling renamed over it: its
            parent must be writable) or "file".

    Raises:
        UsageError: exit 1, naming the path and why it cannot be written.
    """
    if path.exists():
        if mode == "file" and path.is_dir():
            raise UsageError(f"{path}: is a directory, expected a file name", EXIT_FAIL)
        if mode != "file" and not path.is_dir():
            raise UsageError(f"{path}: exists and is not a directory", EXIT_FAIL)
        if not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
            raise UsageError(f"{path}: is not writable (choose another --out)", EXIT_FAIL)
    start = path if mode == "dir" else path.parent  # an existing file was checked above
    where = next(p for p in (start, *start.parents) if p.exists() or p == Path(p.anchor))
    if not where.is_dir():
        raise UsageError(f"{path}: cannot create it: {where} is a file", EXIT_FAIL)
    if not os.access(where, os.W_OK | (os.X_OK if where.is_dir() else 0)):
        raise UsageError(
            f"{path}: cannot write it: {where} is not writable (choose another --out)", EXIT_FAIL
        )


# --------------------------------------------------------------------------- errors
def describe(err: BaseException, args: argparse.Namespace) -> tuple[str, int]:
    """The stderr text and exit code of an exception raised by a command."""
    name = _input_name(args)
    if isinstance(err, UsageError):
        return f"error: {err}", err.code
    if isinstance(err, CaseError):  # one line per problem, as `confine validate`
        return "\n".join(str(p) for p in err.problems), EXIT_INVALID
    recorded = _recorded(err, args)
    if recorded is not None:  # a failed run (solve or quality check): its failure.json
        line, record = recorded
        what = "residual history" if is_solver_failure(err) else "details"
        return f"error: {name}: {line}; {what} in {record}", EXIT_FAIL
    if is_solver_failure(err):
        return f"error: {name}: {summary(err, _case_of(args))}", EXIT_FAIL
    if isinstance(err, UnicodeDecodeError):
        path = _path_in_traceback(err.__traceback__)
        return (
            f"error: {path or name}: not a text file (not UTF-8 at offset {err.start})",
            EXIT_INVALID,
        )
    if isinstance(err, OSError):
        return _os_error(err), EXIT_FAIL
    cache = _mesh_cache_dir(err.__traceback__)
    errno = _ERRNO.search(str(err))
    if cache is not None and errno:  # rank 0's OSError, passed to every rank as text
        line = f"error: {cache}: cannot write the mesh cache ({errno[1]}); {MESH_CACHE_HINT}"
        return line, EXIT_FAIL
    if isinstance(err, ImportError):
        return f"error: {err}", EXIT_UNAVAILABLE
    if isinstance(err, MemoryError):
        return f"error: {name}: out of memory (try a coarser mesh or more memory)", EXIT_FAIL
    first = (str(err).strip().splitlines() or ["no message"])[0]
    return (
        f"error: {name}: {type(err).__name__}: {first} (unexpected: `confine --debug ...` "
        "shows the traceback to report)",
        EXIT_FAIL,
    )


def _recorded(err: BaseException, args: argparse.Namespace) -> tuple[str, Path] | None:
    """The summary line and path of the failure.json that this very error left in ``--out``."""
    out = getattr(args, "out", None)
    path = Path(out) / FAILURE_FILE if out else None
    if path is None or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("error") != f"{type(err).__name__}: {err}":
        return None  # an earlier run's
    return str(record.get("summary") or summary(err)), path


def _input_name(args: argparse.Namespace) -> str:
    command = getattr(args, "command", "")
    attr = INPUTS.get(command, ("", ""))[0]
    value = getattr(args, attr, None) if attr else None
    return str(value) if value is not None else f"confine {command}"


def _case_of(args: argparse.Namespace) -> Any:
    """The case of a case command, loaded again for the advice's current values."""
    if INPUTS.get(getattr(args, "command", ""), ("", ""))[1] != "case" or not args.case:
        return None
    sets = dict(s.split("=", 1) for s in getattr(args, "set", None) or [])
    try:
        return load_case(args.case, set={k.strip(): v.strip() for k, v in sets.items()})
    except Exception:  # advice without current values is still advice
        return None


def _os_error(err: OSError) -> str:
    """One line for an OSError; the mesh cache's own advice when it failed there."""
    path = err.filename if err.filename is not None else _path_in_traceback(err.__traceback__)
    why = err.strerror or type(err).__name__
    cache = _mesh_cache_dir(err.__traceback__)
    if cache is not None:
        return f"error: {cache}: cannot write the mesh cache ({why}: {path}); {MESH_CACHE_HINT}"
    return f"error: {path}: {why}" if path is not None else f"error: {why}"


def _frames(tb: TracebackType | None) -> Iterator[Any]:
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _mesh_cache_dir(tb: TracebackType | None) -> str | None:
    """The cache folder when the error was raised inside confine.mesh, else None."""
    for frame in _frames(tb):
        if str(frame.f_globals.get("__name__", "")).startswith("confine.mesh"):
            cache = frame.f_locals.get("cache_dir")
            return str(cache) if cache is not None else "the mesh cache"
    return None


def _path_in_traceback(tb: TracebackType | None) -> str | None:
    """The file being read when an error without a file name was raised (innermost).

    ``Path.read_text`` raises UnicodeDecodeError with no file name; the Path is
    its frame's ``self``. Best effort: None when there is none.
    """
    found = None
    for frame in _frames(tb):
        me = frame.f_locals.get("self")
        if isinstance(me, PurePath):
            found = str(me)
    return found

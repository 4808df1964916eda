"""``thzface <verb>``: parse the arguments, run the verb's handler, report user errors in one line.

The argument tree is in ``parser.py``; the handlers, grouped by what they work on, in ``data.py`` (datasets),
``train.py`` (making and scoring runs) and ``infer.py`` (using a trained run). Each handler imports the heavy
modules it calls inside its body, so ``thzface --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
import sys

from thzface.cli.parser import build_parser
from thzface.config import ConfigError

__all__ = ["REPORTED_ERRORS", "build_parser", "main"]

# Validated user errors (bad config, missing or foreign file, bad argument): one line, exit 2. Anything else
# (KeyError, TypeError, AttributeError, ...) is a bug and keeps its traceback.
REPORTED_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    ValueError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    PermissionError,
    IsADirectoryError,
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come before or after options: collect the leftovers of verbs that take them
    bad = [x for x in extra if x.startswith("-") or "=" not in x]
    if bad or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    if not args.verbose:
        for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
            logging.getLogger(name).setLevel(logging.ERROR)
    from thzface.engine.errors import NonFiniteLossError  # not engine.task: Lightning is a 5 s import

    try:
        return int(args.fn(args) or 0)
    except NonFiniteLossError as e:
        print(f"thzface: error: {e} (training stopped; the last good checkpoint is kept)", file=sys.stderr)
        return 1
    except REPORTED_ERRORS as e:
        if args.verbose:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"thzface: error: {str(msg).splitlines()[0] if msg else type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thzface: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

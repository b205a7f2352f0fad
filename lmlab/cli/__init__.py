"""The `lmlab` command line: one table of commands, each run by a recipe imported only when used.

    lmlab COMMAND [ACTION] [options]
      -> `COMMANDS` names the recipe function ("module:function") and its one-line help
      -> its options dataclass (`lmlab.recipes.options`, torch-free) declares the arguments
      -> argparse parses them into that dataclass -> the recipe runs

Only the chosen command's arguments are built, so ``lmlab --help``, ``corpus`` and ``tokenizer``
never import torch. A `UserError` anywhere becomes one line on stderr and exit code 2; tracebacks
are for bugs.
"""

from __future__ import annotations

import sys

from lmlab.cli.arguments import Parser, add_options, options_from_namespace, resolve
from lmlab.cli.table import COMMANDS, GROUPS
from lmlab.errors import UserError


def chosen_command(argv: list[str]) -> str | None:
    """The table key the arguments name: "train", "classify train", ... (None if none yet)."""
    words = [word for word in argv if not word.startswith("-")][:2]
    if words and words[0] in GROUPS and len(words) > 1 and f"{words[0]} {words[1]}" in COMMANDS:
        return f"{words[0]} {words[1]}"
    return words[0] if words and words[0] in COMMANDS else None


def build_parser(chosen: str | None = None) -> Parser:
    """Every command listed; only `chosen` gets its arguments (and imports its recipe)."""
    from lmlab import __version__

    parser = Parser(prog="lmlab", description="Build, train, sample, evaluate and compare language models "
                                              "from scratch in PyTorch.")
    parser.add_argument("--version", action="version", version=f"lmlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, required=True)
    groups = {}
    for key, command in COMMANDS.items():
        group, _, action = key.rpartition(" ")
        if group and group not in groups:
            group_parser = commands.add_parser(group, help=GROUPS[group], description=GROUPS[group])
            groups[group] = group_parser.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser,
                                                        required=True)
        subparser = (groups[group] if group else commands).add_parser(action, help=command.help)
        subparser.set_defaults(command_key=key)
        if key == chosen:
            cls = resolve(command.options)
            subparser.description = (cls.__doc__ or command.help).strip()
            add_options(subparser, cls)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(word) for word in argv]
    key = chosen_command(argv)
    try:
        args = build_parser(key).parse_args(argv)
        command = COMMANDS[args.command_key]
        options = options_from_namespace(resolve(command.options), args)
        resolve(command.handler)(options)
    except UserError as error:
        sys.stderr.write(f"lmlab {key or ''}: error: {error}\n".replace(" :", ":"))
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("lmlab: interrupted\n")
        return 130
    except BrokenPipeError:  # `lmlab sample ... | head`
        return 0
    return 0

"""Every ``--help`` page is complete, plain text, and shows a working example.

The whole command tree is walked the way ``crmkit --help`` sees it with every
built-in plugin installed, plus the commands of the plugin template
(``crmkit plugins new`` renders them into every new plugin).  For each command
and group:

* every option has help text, and every argument is named (in upper case, its
  metavar) in the command's help;
* the summary its parent group lists is not cut (click ends a cut one with "...");
* no reStructuredText markup (backticks, ``:func:`` roles) shows;
* every command that does work has an example in a no-rewrap block::

      \\b
      Example:
        crmkit customers show C00042 --format json

  and every example is parsed by the command's own parser, so an example with a
  wrong command path, an unknown option or a bad value fails.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import shlex
import warnings
from pathlib import Path

import click
import pytest

from crmkit.devtools import docgen, scaffold
from crmkit.cli import CORE_COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
# click's help formatter on an 80-column terminal is 78 wide; a group lists each
# summary in (width - 6 - its longest command name) characters.
HELP_WIDTH = 78
RST = re.compile(r"`|^\.\. [a-z]+::|\*\*\w", re.M)  # literals and roles, directives, bold
EXAMPLE_HEAD = re.compile(r"^Examples?\b.*:$")
SHELL_OPERATORS = {"|", "||", ">", ">>", "<", "&&", ";", "&"}


class Node:
    """One command of the tree: its words after ``crmkit``, the command and its parent group."""

    def __init__(self, path: tuple[str, ...], command: click.Command,
                 parent: click.Group | None, siblings: list[str]):
        self.path, self.command, self.parent, self.siblings = path, command, parent, siblings

    def __repr__(self) -> str:
        return "crmkit " + " ".join(self.path)


def walk(command: click.Command, path: tuple[str, ...], parent: click.Group | None,
         siblings: list[str], nodes: list[Node]) -> None:
    nodes.append(Node(path, command, parent, siblings))
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1] if path else "crmkit")
        names = [n for n in command.list_commands(ctx) if not command.get_command(ctx, n).hidden]
        for name in names:
            walk(command.get_command(ctx, name), path + (name,), command, names, nodes)


def template_group() -> click.Group:
    """The click group a new plugin gets from ``crmkit plugins new dental``."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        target = scaffold.render("dental", folder, "Recall reminders for dental clinics.")
        spec = importlib.util.spec_from_file_location("crmkit_template_cli",
                                                      target / "crmkit_dental" / "cli.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.group


def command_tree() -> list[Node]:
    ctx = click.Context(cli, info_name="crmkit")
    names = sorted(CORE_COMMANDS) + docgen.builtin_plugins()
    nodes: list[Node] = [Node((), cli, None, [])]
    for name in names:
        walk(cli.get_command(ctx, name), (name,), None, names, nodes)
    walk(template_group(), ("dental",), None, names + ["dental"], nodes)
    return nodes


NODES = command_tree()


def ids(node: Node) -> str:
    return " ".join(node.path) or "crmkit"


def examples(help_text: str) -> list[str]:
    """The command lines of the ``Example:`` no-rewrap blocks of a help text."""
    found = []
    for block in help_text.split("\n\n"):
        lines = block.strip("\n").splitlines()
        if len(lines) < 2 or lines[0].strip() != "\b" or not EXAMPLE_HEAD.match(lines[1].strip()):
            continue
        joined = "\n".join(lines[2:]).replace("\\\n", " ")
        found += [line.strip() for line in joined.splitlines() if line.strip()]
    return found


def example_problem(node: Node, line: str) -> str | None:
    """Why an example line is not a valid use of the node's command (None when it is)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    for i, word in enumerate(words):
        if word in SHELL_OPERATORS:
            words = words[:i]
            break
    if words[:1] != ["crmkit"]:
        return f"{line!r} does not start with crmkit"
    args = words[1:]
    # global options of crmkit itself come before the command path
    root = cli.make_context("crmkit", args, resilient_parsing=False)
    with warnings.catch_warnings():  # click 8.2+ deprecates protected_args; 9 folds it into args
        warnings.simplefilter("ignore", DeprecationWarning)
        args = [*getattr(root, "protected_args", []), *root.args]
    if tuple(args[:len(node.path)]) != node.path:
        return f"{line!r} is not an example of crmkit {' '.join(node.path)}"
    try:
        node.command.make_context(node.path[-1], args[len(node.path):], parent=root)
    except click.ClickException as exc:
        return f"{line!r}: {exc.format_message()}"
    return None


def help_texts(command: click.Command) -> list[str]:
    texts = [command.help or "", command.short_help or "", command.epilog or ""]
    return texts + [p.help or "" for p in command.params if isinstance(p, click.Option)]


@pytest.mark.parametrize("node", NODES, ids=ids)
def test_every_option_and_argument_is_explained(node):
    command = node.command
    undocumented = [p.opts[-1] for p in command.params
                    if isinstance(p, click.Option) and not p.hidden and not p.help]
    assert not undocumented, f"{node}: give these options help=: {', '.join(undocumented)}"
    unnamed = [p.metavar or p.name.upper() for p in command.params
               if isinstance(p, click.Argument)
               and not re.search(rf"\b{re.escape(p.metavar or p.name.upper())}\b",
                                 command.help or "")]
    assert not unnamed, f"{node}: name these arguments in the docstring: {', '.join(unnamed)}"


@pytest.mark.parametrize("node", [n for n in NODES if n.parent is not None], ids=ids)
def test_group_listing_shows_the_whole_summary(node):
    limit = HELP_WIDTH - 6 - max(len(name) for name in node.siblings)
    summary = node.command.get_short_help_str(limit)
    assert summary and not summary.endswith("..."), (
        f"{node}: the summary in `{' '.join(node.path[:-1])} --help` is cut to {summary!r}; "
        f"shorten the first sentence to {limit} characters or set short_help=")


@pytest.mark.parametrize("node", NODES, ids=ids)
def test_help_is_plain_text(node):
    marked = [text for text in help_texts(node.command) if RST.search(text)]
    if not node.path:
        marked += [summary for _, summary in CORE_COMMANDS.values() if RST.search(summary)]
    assert not marked, f"{node}: reStructuredText markup shows in --help: {marked}"


@pytest.mark.parametrize("node", NODES, ids=ids)
def test_every_command_has_a_valid_example(node):
    found = examples(node.command.help or "")
    if not isinstance(node.command, click.Group):
        assert found, (f"{node}: add an example to the docstring:\n\n    \\b\n    Example:\n"
                       f"      {node} ...")
    problems = [problem for line in found if (problem := example_problem(node, line))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("node", NODES, ids=ids)
def test_no_rewrap_blocks_fit_an_80_column_terminal(node):
    """click does not rewrap a \\b block; its lines are indented 2 more columns in --help."""
    wide = [line.strip() for block in inspect.cleandoc(node.command.help or "").split("\n\n")
            if block.startswith("\b") for line in block.splitlines() if len(line) + 2 > 80]
    assert not wide, f"{node}: break these lines with a trailing backslash: {wide}"


# -- the checks above can fail ------------------------------------------------------------------


def test_bad_examples_are_caught():
    @click.command()
    @click.argument("customer")
    @click.option("--format", type=click.Choice(["table", "json"]), help="Output format.")
    def show(customer, format):
        """Show CUSTOMER.

        \b
        Examples:
          crmkit customers show C00042 --format json
          crmkit customers show C00042 --format yaml
          crmkit customers show C00042 --colour red
          crmkit customers list C00042
          crmkit customers show --format json
        """

    node = Node(("customers", "show"), show, None, [])
    problems = [example_problem(node, line) for line in examples(show.help)]
    assert problems[0] is None
    assert "'yaml' is not one of 'table', 'json'" in problems[1]
    assert "No such option" in problems[2] and "--colour" in problems[2]
    assert "is not an example of crmkit customers show" in problems[3]
    assert "Missing argument 'CUSTOMER'" in problems[4]
    assert len(problems) == 5


def test_examples_are_read_across_continuations_and_past_redirections():
    text = ("Do it.\n\n\b\nExample (nightly):\n  crmkit sweep \\\n    --format json >> sweep.log\n"
            "\n\b\nNot an example:\n  crmkit nothing\n")
    assert examples(text) == ["crmkit sweep      --format json >> sweep.log"]
    node = Node(("sweep",), cli.get_command(click.Context(cli), "sweep"), None, [])
    assert example_problem(node, examples(text)[0]) is None
    assert example_problem(node, "crmkit --db sqlite:///x.db sweep --as-of 2026-12-01") is None


def test_a_cut_summary_and_markup_are_caught():
    @click.command()
    def long() -> None:
        """Run each enabled plugin's time-based rules (dormancy, SLA breaches, waits, expiry).

        See ``crmkit sweep`` and :func:`crmkit.sweep`.
        """

    assert long.get_short_help_str(HELP_WIDTH - 6 - len("long")).endswith("...")
    assert RST.search(long.help)
    assert not RST.search("Points per unit; 10:30 is a time, not a role.")

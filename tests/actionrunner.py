"""Run a composite GitHub Action's steps here, the way the runner does.

There is no Docker engine and no ``act`` on the machines this suite runs on, so
:func:`run_action` plays the runner's part for a composite action (``action.yml``):

* inputs get their defaults, and an input the action does not declare is refused;
* ``${{ }}`` expressions in ``if:``, ``env:``, ``working-directory:`` and the outputs
  are evaluated over the ``inputs``, ``github``, ``runner`` and ``steps`` contexts,
  with GitHub's rules for the subset the action uses (case-insensitive string
  comparison, ``''`` for a missing step output, a step runs only while every earlier
  one succeeded). Anything outside that subset (another context, a function such as
  ``always()``) is an error here, so the action cannot drift out of what is tested;
* a ``run:`` step is written to a file and run as ``bash --noprofile --norc -eo
  pipefail FILE`` (the runner's ``shell: bash``), with the variables the runner sets
  (``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ACTION_PATH``, ``RUNNER_TEMP``,
  ``GITHUB_BASE_REF``...) and a fresh output and summary file per step;
* a ``uses:`` step cannot run here: reaching one whose condition holds fails the test.

Variables of a real runner (``GITHUB_*``, ``RUNNER_*``) are dropped from the
inherited environment first, so the suite behaves the same when it runs in GitHub
Actions itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import subprocess
from collections.abc import Mapping

import yaml

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))"
    r"|(?P<name>[A-Za-z_][\w.-]*))"
)
# `::error title=...::message`: the workflow commands a step prints.
COMMAND = re.compile(r"^::(?P<level>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


class UnsupportedExpression(ValueError):
    """The action uses an expression this runner does not evaluate."""


@dataclasses.dataclass(frozen=True)
class Annotation:
    level: str
    title: str
    message: str


@dataclasses.dataclass
class ActionRun:
    """What a run of the action left behind."""

    returncode: int
    #: Every step's stdout and stderr, in order, as the job log shows them.
    log: str
    #: The job summary: every step's ``$GITHUB_STEP_SUMMARY``, concatenated.
    summary: str
    #: The action's ``outputs:``, evaluated after its steps.
    outputs: dict[str, str]
    #: ``steps.<id>.outputs`` of the steps that ran.
    steps: dict[str, dict[str, str]]
    #: Names of the steps that ran, in order.
    ran: list[str]

    @property
    def annotations(self) -> list[Annotation]:
        found = []
        for line in self.log.splitlines():
            match = COMMAND.match(line)
            if match is None or match["level"] not in ("error", "warning", "notice"):
                continue
            props = dict(
                part.split("=", 1) for part in (match["props"] or "").split(",") if "=" in part
            )
            found.append(
                Annotation(
                    match["level"],
                    _unescape(props.get("title", ""), prop=True),
                    _unescape(match["message"]),
                )
            )
        return found


def _unescape(text: str, *, prop: bool = False) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")]
    if prop:
        pairs += [("%3A", ":"), ("%2C", ",")]
    for escaped, plain in [*pairs, ("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


class _Evaluator:
    """GitHub's expression syntax, for the subset an action like ours uses."""

    def __init__(self, contexts: Mapping[str, object], step_ids: set[str]) -> None:
        self.contexts = contexts
        self.step_ids = step_ids

    def evaluate(self, expression: str) -> str | bool:
        tokens = self._tokenize(expression)
        value, rest = self._or(tokens)
        if rest:
            raise UnsupportedExpression(f"unexpected {rest[0]!r} in {expression!r}")
        return value

    def substitute(self, text: str) -> str:
        """A string with every ``${{ }}`` replaced by its value."""

        def one(match: re.Match[str]) -> str:
            value = self.evaluate(match[1])
            if isinstance(value, bool):
                return "true" if value else "false"
            return value

        return EXPRESSION.sub(one, text)

    def condition(self, text: str) -> bool:
        inner = EXPRESSION.fullmatch(text.strip())
        return self._truthy(self.evaluate(inner[1] if inner else text))

    @staticmethod
    def _tokenize(expression: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        while position < len(expression.rstrip()):
            match = TOKEN.match(expression, position)
            if match is None or match.end() == position:
                raise UnsupportedExpression(f"cannot read {expression[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match[kind]))
            position = match.end()
        return tokens

    @staticmethod
    def _truthy(value: str | bool) -> bool:
        return value if isinstance(value, bool) else value != ""

    def _or(self, tokens: list[tuple[str, str]]) -> tuple[str | bool, list]:
        value, tokens = self._and(tokens)
        while tokens and tokens[0] == ("op", "||"):
            right, tokens = self._and(tokens[1:])
            value = value if self._truthy(value) else right
        return value, tokens

    def _and(self, tokens: list[tuple[str, str]]) -> tuple[str | bool, list]:
        value, tokens = self._not(tokens)
        while tokens and tokens[0] == ("op", "&&"):
            right, tokens = self._not(tokens[1:])
            value = right if self._truthy(value) else value
        return value, tokens

    def _not(self, tokens: list[tuple[str, str]]) -> tuple[str | bool, list]:
        if tokens and tokens[0] == ("op", "!"):
            value, tokens = self._not(tokens[1:])
            return not self._truthy(value), tokens
        return self._compare(tokens)

    def _compare(self, tokens: list[tuple[str, str]]) -> tuple[str | bool, list]:
        left, tokens = self._primary(tokens)
        if tokens and tokens[0][0] == "op" and tokens[0][1] in ("==", "!="):
            op = tokens[0][1]
            right, tokens = self._primary(tokens[1:])
            if type(left) is not type(right):
                raise UnsupportedExpression(f"comparing {left!r} with {right!r}")
            # GitHub compares strings ignoring case.
            equal = left.casefold() == right.casefold() if isinstance(left, str) else left == right
            return equal if op == "==" else not equal, tokens
        return left, tokens

    def _primary(self, tokens: list[tuple[str, str]]) -> tuple[str | bool, list]:
        if not tokens:
            raise UnsupportedExpression("expression ends too soon")
        (kind, text), rest = tokens[0], tokens[1:]
        if kind == "string":
            return text[1:-1].replace("''", "'"), rest
        if (kind, text) == ("op", "("):
            value, rest = self._or(rest)
            if not rest or rest[0] != ("op", ")"):
                raise UnsupportedExpression("missing ')'")
            return value, rest[1:]
        if kind == "name":
            if text in ("true", "false"):
                return text == "true", rest
            return self._lookup(text), rest
        raise UnsupportedExpression(f"unexpected {text!r}")

    def _lookup(self, path: str) -> str:
        context, _, rest = path.partition(".")
        if context not in self.contexts or not rest:
            raise UnsupportedExpression(f"context {path!r} is not supported here")
        if context == "steps":
            step, _, output = rest.partition(".outputs.")
            if step not in self.step_ids or not output:
                raise UnsupportedExpression(f"{path!r} names no step output of this action")
            outputs = self.contexts["steps"].get(step, {})  # type: ignore[attr-defined]
            return outputs.get(output, "")
        values = self.contexts[context]
        if rest not in values:  # type: ignore[operator]
            raise UnsupportedExpression(f"{path!r} is not defined here")
        return values[rest]  # type: ignore[index]


def _parse_output_file(path: pathlib.Path) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as the runner reads them."""
    outputs: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            outputs[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def load(action_dir: pathlib.Path) -> dict:
    return yaml.safe_load((action_dir / "action.yml").read_text(encoding="utf-8"))


def run_scripts(action_dir: pathlib.Path) -> dict[str, str]:
    """The ``run:`` script of every step, by step id (for shellcheck)."""
    steps = load(action_dir)["runs"]["steps"]
    return {step.get("id", step.get("name", "")): step["run"] for step in steps if "run" in step}


def run_action(
    action_dir: pathlib.Path,
    *,
    workspace: pathlib.Path,
    runner_temp: pathlib.Path,
    inputs: Mapping[str, str] | None = None,
    event_name: str = "pull_request",
    base_ref: str = "",
    event: Mapping[str, object] | None = None,
    path_prepend: list[pathlib.Path] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> ActionRun:
    """Run the composite action in *action_dir* as a job step in *workspace*."""
    action = load(action_dir)
    assert action["runs"]["using"] == "composite", "not a composite action"
    declared = action.get("inputs", {})
    given = dict(inputs or {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"the action declares no input(s) {unknown}")
    runner_temp.mkdir(parents=True, exist_ok=True)
    files = runner_temp / "_runner_files"
    files.mkdir(exist_ok=True)
    event_path = files / "event.json"
    event_path.write_text(json.dumps(event or {}), encoding="utf-8")

    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_")) and k not in ("CI",)
    }
    if path_prepend:
        base_env["PATH"] = os.pathsep.join([*map(str, path_prepend), base_env.get("PATH", "")])
    base_env.update(
        CI="true",
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_EVENT_NAME=event_name,
        GITHUB_EVENT_PATH=str(event_path),
        GITHUB_BASE_REF=base_ref,
        GITHUB_ACTION_PATH=str(action_dir),
        GITHUB_ENV=str(files / "env"),
        GITHUB_PATH=str(files / "path"),
        RUNNER_TEMP=str(runner_temp),
        RUNNER_OS="Linux",
    )
    base_env.update(env or {})

    step_outputs: dict[str, dict[str, str]] = {}
    contexts: dict[str, object] = {
        "inputs": {},
        "github": {
            "action_path": str(action_dir),
            "workspace": str(workspace),
            "base_ref": base_ref,
            "event_name": event_name,
        },
        "runner": {"temp": str(runner_temp), "os": "Linux"},
        "steps": step_outputs,
    }
    steps = action["runs"]["steps"]
    evaluator = _Evaluator(contexts, {s["id"] for s in steps if "id" in s})
    # Defaults may hold expressions (`${{ github.token }}`); values given in `with:` were
    # evaluated by the workflow already.
    contexts["inputs"] = {
        name: given[name] if name in given else evaluator.substitute(str(spec.get("default", "")))
        for name, spec in declared.items()
    }

    log, summary, ran, returncode = [], [], [], 0
    for number, step in enumerate(steps):
        name = step.get("name", step.get("id", f"step {number}"))
        if "if" in step:
            text = str(step["if"])
            if re.search(r"\b(always|failure|cancelled|success)\s*\(", text):
                raise UnsupportedExpression(f"status function in {name!r}: {text}")
            if not evaluator.condition(text):
                continue
        if "uses" in step:
            raise AssertionError(f"step {name!r} ({step['uses']}) would run: it cannot here")
        assert step.get("shell") == "bash", f"step {name!r}: only shell: bash is run here"
        script = files / f"step-{number}.sh"
        script.write_text(step["run"], encoding="utf-8")
        output_file = files / f"output-{number}"
        summary_file = files / f"summary-{number}"
        output_file.write_text("")
        summary_file.write_text("")
        step_env = dict(base_env)
        step_env.update(
            {k: evaluator.substitute(str(v)) for k, v in (step.get("env") or {}).items()}
        )
        step_env.update(GITHUB_OUTPUT=str(output_file), GITHUB_STEP_SUMMARY=str(summary_file))
        cwd = workspace / evaluator.substitute(str(step.get("working-directory", ".")))
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        ran.append(name)
        log.append(proc.stdout)
        summary.append(summary_file.read_text(encoding="utf-8"))
        if "id" in step:
            step_outputs[step["id"]] = _parse_output_file(output_file)
        if proc.returncode != 0:
            returncode = proc.returncode
            break

    outputs = {
        name: evaluator.substitute(str(spec["value"]))
        for name, spec in (action.get("outputs") or {}).items()
    }
    return ActionRun(returncode, "".join(log), "".join(summary), outputs, step_outputs, ran)

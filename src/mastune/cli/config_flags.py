"""CLI flags generated from a config dataclass: each field is one `--flag` (underscores become dashes,
or the field's `flag` metadata), its default and its `help` metadata; declared once, in the dataclass.

    @with_config_flags(RLConfig, defaults={"layers": "1,1"})
    def command(config_values: dict, out: Path = typer.Option(...)) -> None:
        cfg = RLConfig(**config_values)   # inside the command's own error handling

The wrapped command receives the flags' values as `config_values` and its other parameters as usual.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Any, Callable

import typer


def _flag_type(f: dataclasses.Field, hint: Any) -> Any:
    if "flag_type" in f.metadata:
        return typing.Optional[f.metadata["flag_type"]]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    return typing.Optional[base] if type(None) in typing.get_args(hint) else base


def _flag_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return value


def config_parameters(cls: type, defaults: dict[str, Any] | None = None,
                      skip: tuple[str, ...] = ()) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        if f.name in skip or "help" not in f.metadata:
            continue
        default = (defaults or {}).get(f.name, f.default)
        name = "--" + f.metadata.get("flag", f.name).replace("_", "-")
        hint = _flag_type(f, hints[f.name])
        if hint is bool:
            decl = [f"{name}/--no-{name[2:]}"]
        else:
            decl = [name]
        opt = typer.Option(_flag_default(default), *decl, help=f.metadata["help"])
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=hint))
    return params


def with_config_flags(cls: type, defaults: dict[str, Any] | None = None,
                      skip: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    fields = {f.name for f in dataclasses.fields(cls)}

    def wrap(command: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(command)  # the command's own annotations, resolved in its module
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(name, p.annotation))
               for name, p in inspect.signature(command).parameters.items() if name != "config_values"]
        generated = config_parameters(cls, defaults, skip)

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            values = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
            kwargs["config_values"] = values
            return command(**kwargs)

        params = generated + own
        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}  # typer resolves these, not strings
        del run.__wrapped__  # typer must read the generated signature, not the wrapped one
        return run
    return wrap

"""Expected values that follow from the config, written as small arithmetic expressions.

``paper: {expr: "runs.sgd_fast.schedule.lr / runs.sgd_slow.schedule.lr"}`` keeps a claim's
expected value in step with the settings it follows from: editing an LR changes the expected
ratio too. Expressions are parsed with :mod:`ast` and walked by hand (never ``eval``): numbers,
``+ - * / ** %``, unary minus, the functions below, and dotted names (``runs.<run>.<path>``,
``plot.<path>``, ``presets.<preset>.<path>``; ``runs["a[seed=1]"]`` for a name with brackets).
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from pydantic import field_validator

from .base import Strict
from .errors import SpecError

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow, ast.Mod: operator.mod}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = {"min": min, "max": max, "abs": abs, "sqrt": math.sqrt, "log": math.log, "exp": math.exp}
MAX_LENGTH = 500


class Expr(Strict):
    """A value computed from the resolved config (see the module docstring)."""

    expr: str

    @field_validator("expr")
    @classmethod
    def _parses(cls, text: str) -> str:
        parse(text)
        return text


def parse(text: str) -> ast.Expression:
    if len(text) > MAX_LENGTH:
        raise ValueError(f"an expression of at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"an arithmetic expression ({exc.msg})") from None
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Attribute,
                                 ast.Subscript, ast.Call, ast.Load, *_BINARY, *_UNARY)):
            raise ValueError(f"numbers, + - * / ** %, {', '.join(FUNCTIONS)} and dotted names only (not {type(node).__name__})")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords):
            raise ValueError(f"the only functions are {', '.join(FUNCTIONS)}")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float, str))):
            raise ValueError("numbers (or a quoted name inside [...]) only")
    return tree


def evaluate(text: str, names: dict[str, Any]) -> float | int:
    """The value of ``text`` with dotted names looked up in ``names``; raises ValueError."""
    value = _eval(parse(text).body, names)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"evaluates to {value!r}, not a number")
    if not math.isfinite(value):
        raise ValueError(f"evaluates to {value}, not a finite number")
    return value


def _eval(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = _number(_eval(node.left, names)), _number(_eval(node.right, names))
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponents above 64 are not needed for an expected value")
        try:
            return _BINARY[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError) as exc:
            raise ValueError(str(exc)) from None
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_number(_eval(node.operand, names)))
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id](*(_number(_eval(a, names)) for a in node.args))
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ValueError(f"unknown name '{node.id}'; names start with {', '.join(names)}")
        return names[node.id]
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        base = _eval(node.value, names)
        key = node.attr if isinstance(node, ast.Attribute) else _eval(node.slice, names)
        if isinstance(base, dict) and key in base:
            return base[key]
        if isinstance(base, list) and isinstance(key, int) and -len(base) <= key < len(base):
            return base[key]
        have = ", ".join(map(str, base)) if isinstance(base, dict) else type(base).__name__
        raise ValueError(f"no '{key}' in {ast.unparse(node.value)} (have: {have})")
    raise ValueError(f"cannot evaluate {type(node).__name__}")


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    return value


def resolve_claims(fig: Any, names: dict[str, Any], file: str, where: str) -> Any:
    """The figure with each claim's ``paper`` and check bounds that are expressions evaluated
    (the expression kept beside the value, ``expected_from``, for the report)."""
    claims = []
    for k, claim in enumerate(fig.claims):
        update, sources = {}, {}
        if _is_expr(claim.paper):
            update["paper"] = _value(claim.paper["expr"], names, file, f"{where}.claims[{k}].paper.expr")
            sources["paper"] = claim.paper["expr"]
        elif isinstance(claim.paper, list) and any(_is_expr(p) for p in claim.paper):
            update["paper"] = [_value(p["expr"], names, file, f"{where}.claims[{k}].paper[{i}].expr") if _is_expr(p) else p
                               for i, p in enumerate(claim.paper)]
            sources["paper"] = "[" + ", ".join(p["expr"] if _is_expr(p) else str(p) for p in claim.paper) + "]"
        check_update = {}
        for key, value in claim.check.__dict__.items():
            if isinstance(value, Expr):
                check_update[key] = _value(value.expr, names, file, f"{where}.claims[{k}].check.{key}.expr")
                sources[key] = value.expr
        if check_update:
            update["check"] = claim.check.model_copy(update=check_update)
        if sources:
            update["expected_from"] = sources
        claims.append(claim.model_copy(update=update) if update else claim)
    return fig.model_copy(update={"claims": claims})


def _is_expr(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"expr"} and isinstance(value["expr"], str)


def _value(text: str, names: dict[str, Any], file: str, where: str) -> float | int:
    try:
        return evaluate(text, names)
    except ValueError as exc:
        raise SpecError(file, where, text, f"cannot evaluate: {exc}") from None
    except (TypeError, RecursionError) as exc:
        raise SpecError(file, where, text, f"cannot evaluate: {type(exc).__name__}") from None

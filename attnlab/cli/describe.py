"""``attnlab describe``: parameters and GMACs of a backbone + attention design, per module type and in total.

Every AttentionDesign and BackboneConfig field is a flag, generated from the dataclasses so a new field is never
missing here. ``--table paper`` prints the CBAM paper's cost table beside our counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, NoReturn

from rich import box
from rich.table import Table

from attnlab.cli.output import add_format_option, print_json, print_table, stdout_console
from attnlab.errors import ConfigError
from attnlab.modules.backbones import BACKBONE_NAMES, BackboneConfig
from attnlab.modules.counting import CostReport, model_cost
from attnlab.modules.design import PRESET_SOURCES, PRESETS, AttentionDesign
from attnlab.modules.paper import PAPER_SETTING, PaperComparison, compare_with_paper

HELP = "parameters and GMACs of a backbone + attention design, per module type"

NUM_CLASSES = 1000
IMAGE_SIZE = 224
IN_CHANNELS = 3
# (section, field) -> flag name, where the field's own name would be unclear on the command line.
RENAMED_FIELDS: dict[tuple[str, str], str] = {("backbone", "name"): "backbone", ("attention", "type"): "attention"}


class _Parser(argparse.ArgumentParser):
    """Turns argparse's usage-and-exit into a one-line ConfigError, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _int_or_word(text: str) -> int | str:
    """A flag that takes a number or a word (``--channel-kernel-size 5`` or ``adaptive``)."""
    return int(text) if text.lstrip("-").isdigit() else text


def _flag_kwargs(hint: Any) -> dict[str, Any]:
    """argparse options for one dataclass field type (``X | None``, bool, Literal, tuple[Literal, ...], int, ...)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        choices = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(choices) > 1:  # e.g. int | Literal["adaptive"]: the dataclass checks the value
            return {"type": _int_or_word}
        (hint,) = choices
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(hint) is tuple:
        return {"nargs": "+", **_flag_kwargs(typing.get_args(hint)[0])}
    if typing.get_origin(hint) is typing.Literal:
        return {"choices": list(typing.get_args(hint))}
    return {"type": hint}


def _flag(section: str, field: str) -> str:
    return "--" + RENAMED_FIELDS.get((section, field), field).replace("_", "-")


def _add_dataclass_flags(
    parser: argparse.ArgumentParser, title: str, cls: type, section: str, choices: Mapping[str, tuple[str, ...]]
) -> Any:
    """A group with one flag per dataclass field; unset flags stay ``None`` so the dataclass decides the default."""
    group = parser.add_argument_group(title)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kwargs = _flag_kwargs(hints[field.name])
        if field.name in choices:
            kwargs["choices"] = list(choices[field.name])
        default = "the preset's" if field.default is None else field.default
        help_text = f"default: {default}"
        if "choices" in kwargs:
            help_text = f"one of {', '.join(kwargs['choices'])}; {help_text}"
        if kwargs.get("action") is None:
            kwargs["metavar"] = field.name.upper()
        group.add_argument(
            _flag(section, field.name), dest=f"{section}.{field.name}", default=None, help=help_text, **kwargs
        )
    return group


def _section(args: argparse.Namespace, section: str) -> dict[str, Any]:
    """The flags the user set for one dataclass, by field name."""
    prefix = f"{section}."
    return {
        dest[len(prefix) :]: value
        for dest, value in vars(args).items()
        if dest.startswith(prefix) and value is not None
    }


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="attnlab describe", description=HELP)
    model = _add_dataclass_flags(parser, "model", BackboneConfig, "backbone", {"name": BACKBONE_NAMES})
    model.add_argument("--num-classes", type=int, default=None, help=f"default: {NUM_CLASSES}")
    model.add_argument("--in-channels", type=int, default=None, help=f"default: {IN_CHANNELS}")
    model.add_argument("--image-size", type=int, default=None, help=f"pixels per side; default: {IMAGE_SIZE}")
    design_title = "attention design (fields left out take the --attention preset's value)"
    _add_dataclass_flags(parser, design_title, AttentionDesign, "attention", {"type": tuple(PRESETS)})
    output = parser.add_argument_group("output")
    add_format_option(output, json_alias=True)
    output.add_argument(
        "--table",
        choices=["paper"],
        help="paper: the CBAM paper's params/GFLOPs table beside our counts (fixed setting, no model flags)",
    )
    return parser


def _model_flags_used(args: argparse.Namespace) -> list[str]:
    used = [_flag(section, field) for section in ("backbone", "attention") for field in _section(args, section)]
    fixed = ("num_classes", "in_channels", "image_size")
    return used + [_flag("model", name) for name in fixed if getattr(args, name) is not None]


def _cost_table(report: CostReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    for header in ("part", "module", "params", "GMACs"):
        table.add_column(header, justify="left" if header in ("part", "module") else "right")
    for line in report.breakdown:
        table.add_row(line.part, line.module_type, f"{line.params:,}", f"{line.macs / 1e9:.4f}")
    table.add_section()
    table.add_row("total", "", f"{report.params:,}", f"{report.gmacs:.4f}", style="bold")
    return table


def _attention_overhead(report: CostReport) -> str | None:
    attention_params, attention_macs = report.part_total("attention")
    backbone_params, backbone_macs = report.part_total("backbone")
    if not attention_params and not attention_macs:
        return None
    return (
        f"attention adds {attention_params:,} params (+{100 * attention_params / backbone_params:.2f}%) "
        f"and {attention_macs / 1e9:.4f} GMACs (+{100 * attention_macs / backbone_macs:.2f}%) to the backbone"
    )


def _paper_table(comparisons: list[PaperComparison]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("architecture", no_wrap=True)
    for header in ("paper params", "ours", "paper GMACs", "ours", "match"):
        table.add_column(header, justify="right")
    for comparison in comparisons:
        row = comparison.row
        table.add_row(
            row.architecture,
            f"{row.params_m:.2f}M",
            f"{comparison.params_m:.2f}M",
            f"{row.gmacs:.3f}",
            f"{comparison.gmacs:.3f}",
            "[green]yes[/]" if comparison.matches else "[red]no[/]",
        )
    return table


def _paper_json(comparisons: list[PaperComparison]) -> dict[str, Any]:
    rows = [
        {
            **dataclasses.asdict(comparison.row),
            "params": comparison.cost.params,
            "macs": comparison.cost.macs,
            "ours_params_m": comparison.params_m,
            "ours_gmacs": comparison.gmacs,
            "match": comparison.matches,
        }
        for comparison in comparisons
    ]
    return {"setting": PAPER_SETTING, "rows": rows}


def _print_paper(as_json: bool) -> None:
    comparisons = compare_with_paper()
    if as_json:
        print_json(_paper_json(comparisons))
        return
    console = stdout_console()
    console.print(f"CBAM paper (Woo et al. 2018) vs attnlab: {PAPER_SETTING}")
    print_table(console, _paper_table(comparisons))
    v15 = model_cost(
        BackboneConfig(name="resnet50", stride_placement="v1.5"), AttentionDesign(type="none"), 1000, 3, 224
    )
    console.print(
        f"The paper's GFLOPs are multiply-accumulates. ResNet-50 v1.5 (stride on the 3×3, torchvision and the "
        f"released code) gives {v15.gmacs:.3f}."
    )


def _print_model(args: argparse.Namespace) -> None:
    backbone = BackboneConfig.from_mapping(_section(args, "backbone"))
    design = AttentionDesign.from_mapping(_section(args, "attention"))
    num_classes = NUM_CLASSES if args.num_classes is None else args.num_classes
    in_channels = IN_CHANNELS if args.in_channels is None else args.in_channels
    image_size = IMAGE_SIZE if args.image_size is None else args.image_size
    report = model_cost(backbone, design, num_classes, in_channels, image_size)
    if args.format == "json":
        setting = {"num_classes": num_classes, "in_channels": in_channels, "image_size": image_size}
        summary = {"backbone": backbone.to_dict(), "attention": design.to_dict(), **setting}
        print_json({**summary, **report.to_dict()})
        return
    title = (
        f"{backbone.name} ({backbone.stride_placement}, {backbone.stem} stem, width {backbone.width:g}) + "
        f"{design.type}, {num_classes} classes, input {in_channels}×{image_size}×{image_size}"
    )
    console = stdout_console()
    console.print(title)
    console.print(f"{design.type}: {PRESET_SOURCES[design.type]}")
    print_table(console, _cost_table(report))
    overhead = _attention_overhead(report)
    if overhead:
        console.print(overhead)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.table == "paper":
        used = _model_flags_used(args)
        if used:
            raise ConfigError(f"--table paper: the paper's setting is fixed; drop {', '.join(used)}")
        _print_paper(args.format == "json")
    else:
        _print_model(args)
    return 0

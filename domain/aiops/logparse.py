"""Log template mining for the ``aiops.parse_logs`` job kind: pure logic, no I/O.

A log line is split into header fields and a message (see `compile_log_format`); the
messages are grouped into templates such as ``Received block <*> of size <NUM> from <IP>``
by `LogTemplateMiner`, and `parse_log` runs both over a whole log and returns what a job
writes out (template table, ``structured.csv`` columns, which templates are new).

What the miner does, and why (see docs/aiops-quality.md for the figures)
------------------------------------------------------------------------
triops is scored on logs of systems it has never seen, so every rule below is a general
property of log messages, chosen by leave-one-system-out validation over the eight
Loghub-2k sets of ``bench/data`` rather than fitted to them.

* **Masks** (`DEFAULT_MASKS` plus user masks, `logparse_masks`) replace IPs, numbers,
  paths (with their query strings), times, sizes, durations, hex ids and DNS-shaped
  names (``<HOST>``) with ``<NAME>`` placeholders. Each mask is safe by construction: it
  only takes text that is a value wherever it appears.
* **Tokens** are split on whitespace only, so a message keeps its token count whatever
  its values hold (``=`` in a query string, ``(`` in ``CLOCK(1)``), and are compared
  through keys where digits count as one shape (``eth0`` ~ ``eth1``) but a word with a
  digit is not a variable by its look (`logparse_tokens`).
* **Variables from evidence** (`logparse_tree`): a Drain-style prefix tree finds the
  cluster of a message; inside it, a position whose key changed is *open* (each key a
  different message: ``worker started`` / ``worker stopped``) until it has shown
  ``variable_values`` different keys, when it becomes a variable and the messages that
  differed only there merge. One similarity threshold no longer has to tell
  ``session opened by client alpha`` from ``Invalid user alpha``: the lines do.
* **Token-count-independent events**: a new message whose constant tokens (its
  *skeleton*) equal those of a known message of another length joins it, so an optional
  variable part or a list of variable length does not split one message.
* A **shape cache** makes repeated messages cheap: its key is the message with
  stand-alone numbers blanked (`SHAPE_PATTERN`, one regex pass). Each blanked span lies
  inside a span the default masks replace, so messages with the same shape mask to the
  same text and get the event of the first one without masking or tree search. A new
  shape is masked, and its masked text is a second cache key (messages differing only
  in an IP or a host name); only new masked texts take the tree search, whose cost
  depends on the tree leaf, not on the number of templates. (A message holding a NUL
  character may share a key with one that has a number there; both then get the same
  template.)

State is a plain JSON-able dict (`LogTemplateMiner.to_state`, version 2) holding the
clusters, events and tree, so a restored miner routes every line as before and keeps
template ids. A state of version 1 still loads: its templates keep their ids and their
version-1 routing (`logparse_v1`), new messages go to the version-2 tree.

Template ids are stable: when evidence merges two events, the higher id becomes an alias
of the lower one (`LogTemplateMiner.canonical_id`); `parse_log` reports canonical ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.aiops.logparse_format import CONTENT_FIELD, LogFormatError, compile_log_format
from domain.aiops.logparse_masks import DEFAULT_MASKS, MaskError
from domain.aiops.logparse_miner import (
    DEFAULT_DEPTH,
    DEFAULT_SIMILARITY_THRESHOLD,
    DEFAULT_VARIABLE_VALUES,
    LogTemplateMiner,
    MinerStateError,
    TemplateInfo,
)

__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_MASKS",
    "DEFAULT_SIMILARITY_THRESHOLD",
    "DEFAULT_VARIABLE_VALUES",
    "LogFormatError",
    "LogTemplateMiner",
    "MaskError",
    "MinerStateError",
    "ParseResult",
    "TemplateInfo",
    "TemplateStats",
    "compile_log_format",
    "parse_log",
]


@dataclass(frozen=True)
class TemplateStats:
    """A template's figures for one `parse_log` run.

    Attributes
    ----------
    template_id:
        Stable template id.
    template:
        Template text at the end of the run.
    count:
        Lines of this run assigned to it.
    first_line, last_line:
        ``LineId`` (from 1, in this run's log) of its first and last line.
    total_count:
        Lines assigned to it over the miner's whole life (previous runs included).
    is_new:
        True when the template was created during this run.
    """

    template_id: int
    template: str
    count: int
    first_line: int
    last_line: int
    total_count: int
    is_new: bool


@dataclass
class ParseResult:
    """What `parse_log` returns.

    Attributes
    ----------
    line_count:
        Lines parsed.
    unmatched_count:
        Lines that did not match the log format (kept, with the whole line as Content).
    header_fields:
        Fields of the log format, ``Content`` included (empty without a format, in
        which case ``Content`` is still a column).
    templates:
        The templates seen in this run, by id.
    new_template_ids:
        Ids of templates created during this run.
    columns:
        ``structured.csv`` as columns: ``LineId``, the header fields, ``Content``,
        ``EventId`` (``E<id>``), ``EventTemplate``; one entry per line.
    miner:
        The miner after the run (call ``to_state()`` to save it).
    """

    line_count: int
    unmatched_count: int
    header_fields: tuple[str, ...]
    templates: list[TemplateStats]
    new_template_ids: list[int]
    columns: dict[str, list[Any]]
    miner: LogTemplateMiner = field(repr=False)

    @property
    def column_names(self) -> list[str]:
        """Column names of ``structured.csv``, in order.

        Returns
        -------
        list[str]
            The keys of `columns`.
        """
        return list(self.columns)

    def rows(self) -> Iterator[dict[str, Any]]:
        """``structured.csv`` row by row.

        Returns
        -------
        Iterator[dict[str, Any]]
            One dict per line, keyed by `column_names`.
        """
        names = self.column_names
        for values in zip(*(self.columns[name] for name in names), strict=True):
            yield dict(zip(names, values, strict=True))


def parse_log(
    lines: Iterable[str],
    log_format: str | None = None,
    *,
    miner: LogTemplateMiner | None = None,
    similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
    depth: int = DEFAULT_DEPTH,
    masks: Iterable[Mapping[str, str] | Sequence[str]] | None = None,
    use_default_masks: bool = True,
    variable_values: int = DEFAULT_VARIABLE_VALUES,
) -> ParseResult:
    """Split log lines into header fields and messages, and mine message templates.

    Parameters
    ----------
    lines:
        The log, one line per item (a trailing newline is fine; each line is stripped).
    log_format:
        Loghub-style format (see `compile_log_format`); None treats the whole line as
        the message. Lines that do not match are counted, and kept with the whole line
        as ``Content`` and empty header fields.
    miner:
        A miner to extend (e.g. restored with `LogTemplateMiner.from_state` for a
        stream); None creates one from the options below, which are then ignored.
    similarity_threshold, depth, masks, use_default_masks, variable_values:
        Options of a new `LogTemplateMiner`.

    Returns
    -------
    ParseResult
        Counts, templates seen in this run, new template ids, ``structured.csv`` columns
        and the miner.

    Raises
    ------
    LogFormatError
        For an invalid log format.
    MaskError
        For an invalid user mask.
    """
    if miner is None:
        miner = LogTemplateMiner(
            similarity_threshold=similarity_threshold,
            depth=depth,
            masks=masks,
            use_default_masks=use_default_masks,
            variable_values=variable_values,
        )
    stripped = list(map(str.strip, lines))
    header_fields: tuple[str, ...] = ()
    header_columns: dict[str, list[Any]] = {}
    unmatched = 0
    if log_format is None:
        messages = stripped
    else:
        pattern, header_fields = compile_log_format(log_format)
        matches = list(map(pattern.match, stripped))
        unmatched = matches.count(None)
        # One tuple per line (whole match, header fields, Content), then transposed.
        names = [name for name in header_fields if name != CONTENT_FIELD]
        blank = ("",) * (len(names) + 1)
        rows = [
            (*blank, line) if match is None else match.group(0, *names, CONTENT_FIELD)
            for line, match in zip(stripped, matches, strict=True)
        ]
        transposed = [list(column) for column in zip(*rows, strict=True)]
        if not transposed:
            transposed = [[] for _ in range(len(names) + 2)]
        for column in transposed:  # a field in an optional part, e.g. (\[<PID>\])?
            if None in column:
                column[:] = ["" if value is None else value for value in column]
        messages = transposed[-1]
        header_columns = dict(zip(names, transposed[1:-1], strict=True))
    known = miner.last_template_id
    ids = miner.add_many(messages)
    count = len(ids)
    first = dict(zip(reversed(ids), range(count, 0, -1), strict=True))
    last = dict(zip(ids, range(1, count + 1), strict=True))
    per_run = Counter(ids)
    texts = {template_id: miner.template_text(template_id) for template_id in per_run}
    templates = [
        TemplateStats(
            template_id=template_id,
            template=texts[template_id],
            count=per_run[template_id],
            first_line=first[template_id],
            last_line=last[template_id],
            total_count=miner.template_info(template_id).count,
            is_new=template_id > known,
        )
        for template_id in sorted(per_run)
    ]
    columns: dict[str, list[Any]] = {"LineId": list(range(1, count + 1))}
    for name in header_fields:
        columns[name] = messages if name == CONTENT_FIELD else header_columns[name]
    if CONTENT_FIELD not in columns:
        columns[CONTENT_FIELD] = messages
    event_ids = {template_id: f"E{template_id}" for template_id in per_run}
    columns["EventId"] = [event_ids[template_id] for template_id in ids]
    columns["EventTemplate"] = [texts[template_id] for template_id in ids]
    return ParseResult(
        line_count=count,
        unmatched_count=unmatched,
        header_fields=header_fields,
        templates=templates,
        new_template_ids=[t.template_id for t in templates if t.is_new],
        columns=columns,
        miner=miner,
    )

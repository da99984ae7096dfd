"""`aftersales impact`: which decisions would an edit of the rules change?

The same cases are decided under the base rules (a git revision or a folder) and the
current ones, each with its own `as_of`; the report counts the decisions that
changed, tabulates the transitions of each output (`service_type: free → paid  37`),
sums the money that moves per money output (and the largest single change), and
keeps a few example cases per transition with the rules that decided them before
and after.

Cases come as JSON Lines, one `{"ruleset": …, "case": {…}, "as_of": …}` per line —
the decision log's export has that shape (`ruleset` may be a name or an object with
`name`; `decision_id` identifies the case when present) — or from the entries of the
decision log, which the command layer reads and hands over (`log_lines`). Both rule
books use the Python backend; above a few thousand cases the work is split over a
process pool, each worker loading the two rule books once; a progress bar (tqdm) on
standard error when it is a terminal.

The work is in the modules of this package, in the order it happens: `sources` (the base rules
and the cases), `comparison` (deciding each case twice, aggregating the differences), `parallel`
(one process or a pool, the progress bar) and `report` (JSON and text).
"""
from .comparison import EXAMPLES, Aggregate
from .parallel import PARALLEL_FROM, compare
from .report import format_text, report_dict
from .sources import BaseRules, ImpactError, log_lines, read_jsonl

__all__ = ["EXAMPLES", "PARALLEL_FROM", "Aggregate", "BaseRules", "ImpactError", "compare", "format_text",
           "log_lines", "read_jsonl", "report_dict"]

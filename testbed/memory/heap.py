"""Heap cost of a node app's codec on a real MicroPython: deployed over the raw REPL, measured
with the port's own gc.

What it is: for one protocol app, write its codec modules (stripped of comments and
docstrings, see `strip_source`) to the board's filesystem through the raw REPL, soft-reset, and
read `gc.mem_alloc()`/`gc.mem_free()` after `gc.collect()`: before, after importing the
modules, after encoding one reading the way the firmware puts it on the wire. A second pass
with the collector off gives the peak (see `HeapFigures.peak`). What it is not: a board
backend (a port comes in) nor a measurement of the whole firmware (its socket loop, JSON
config and logging are not part of a codec).

Why files and `import`, not exec of the source: it is how the firmware loads (main.py imports
coap), and the board then compiles from flash line by line instead of holding the whole text
in RAM first; the micro:bit's ~9.4 kB heap would otherwise spend a source-sized buffer on the
transfer. The files are removed afterwards. Sources are sent stripped of comments and
docstrings (the firmware's behaviour does not change; `HeapFigures.source_bytes_sent` says how
much was sent).
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import TestbedError
from testbed.backends.raw_repl import RawRepl, ReplExecError


@dataclass(frozen=True, slots=True)
class AppCodec:
    """The part of an app that builds one reading on the wire: its modules and the statement
    that builds it (MicroPython code assigning `wire`; it must run on CPython too)."""

    app: str
    modules: tuple[str, ...]  # in import order
    encode: str


# One CoAP Observe notification (RFC 7641 §4.2) carrying a SenML JSON reading (the default
# payload), as CoapSensor.notify builds it (the ETag is fixed here: main.py hashes the payload).
COAP = AppCodec(
    app="coap-sensor", modules=("reading", "coap"),
    encode=(
        "wire = coap.encode(coap.Message(coap.CON, coap.CONTENT, 1, b'\\x5a\\x01', "
        "[(coap.ETAG, b'\\x01\\x02\\x03\\x04'), (coap.OBSERVE, coap.encode_uint(3)), "
        "(coap.CONTENT_FORMAT, coap.encode_uint(coap.SENML_JSON)), "
        "(coap.MAX_AGE, coap.encode_uint(60))], "
        "reading.senml_json('n1', 3, 1764000000, [('temperature', 22.5)])))"
    ),
)
# The same reading in its XEP-0335 element in an RFC 6121 <message/>, as the message variant.
XMPP = AppCodec(
    app="xmpp-sensor", modules=("xmltok", "reading", "stanzas"),
    encode=(
        "wire = stanzas.message('sink@cloud.test', "
        "stanzas.payload('senml-json', 'n1', 3, 1764000000, [('temperature', 22.5)])).encode()"
    ),
)
CODECS: dict[str, AppCodec] = {c.app: c for c in (COAP, XMPP)}


@dataclass(frozen=True, slots=True)
class HeapFigures:
    """Heap bytes in use (gc.mem_alloc() after gc.collect()) at each stage.

    peak: bytes in use after import + encode with the collector off from `before` on: every
    allocation counted, none freed, so an upper bound of the live peak (the 1.9-era port has
    no high-water mark). None when that bound does not fit the heap (`peak_note` says so).
    fits: the codec imported and encoded a reading on this port. error: "<stage>: <exception
    line>" when it did not (a MemoryError, or a SyntaxError/AttributeError for what the port
    lacks): a finding, not a failure of the measurement.
    """

    platform: str
    heap_total: int | None = None
    before: int | None = None
    after_import: int | None = None
    after_encode: int | None = None
    peak: int | None = None
    peak_note: str | None = None
    after_import_module: dict[str, int] | None = None  # heap after each module's import, in order
    fits: bool = False
    error: str | None = None
    wire_bytes: int | None = None
    wire_matches_cpython: bool | None = None
    source_bytes_sent: int = 0


# --- what is sent ---------------------------------------------------------------------------

def strip_source(text: str) -> str:
    """The module without comments, docstrings and blank lines; same tokens otherwise.

    A docstring becomes `0` (a constant statement compiles to nothing but keeps a body that
    held only the docstring valid)."""
    docstrings = _docstring_lines(text)
    out = []
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            continue
        if tok.type == tokenize.STRING and tok.start in docstrings:
            tok = tok._replace(string="0")
        out.append(tok)
    lines = tokenize.untokenize(out).splitlines()
    return "\n".join(line.rstrip() for line in lines if line.strip()) + "\n"


def _docstring_lines(text: str) -> set[tuple[int, int]]:
    starts = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                starts.add((body[0].lineno, body[0].col_offset))
    return starts


# --- the reference ----------------------------------------------------------------------------

def cpython_wire(app_dir: Path, codec: AppCodec) -> bytes:
    """The same statement on CPython (a subprocess, the app's dir as its path): what the board's
    bytes must equal."""
    code = (f"import {', '.join(codec.modules)}\n{codec.encode}\n"
            "import sys; sys.stdout.buffer.write(wire)")
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=app_dir, capture_output=True,
                              timeout=30, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise TestbedError(f"{app_dir}: the CPython reference encoding failed: {exc}") from None
    return done.stdout


# --- the measurement ----------------------------------------------------------------------------

_FIGURE = "gc.collect()\nprint(gc.mem_alloc(), gc.mem_free())"


def _figure(repl: RawRepl, code: str) -> tuple[int, int]:
    alloc, free = repl.exec(f"{code}\n{_FIGURE}").split()[-2:]
    return int(alloc), int(free)


def measure_heap(repl: RawRepl, app_dir: Path, codec: AppCodec, *, platform: str) -> HeapFigures:
    """Deploy `codec`'s modules from `app_dir` to the board behind `repl` and measure them."""
    sources = {m: strip_source((Path(app_dir) / f"{m}.py").read_text()) for m in codec.modules}
    sent = sum(len(s.encode()) for s in sources.values())
    figures: dict[str, object] = {"platform": platform, "source_bytes_sent": sent}
    stage = "deploy"
    try:
        repl.soft_reset()
        for module, text in sources.items():
            repl.write_file(f"{module}.py", text)
        repl.soft_reset()  # a fresh heap: the transfer leaves nothing behind
        stage = "before"
        alloc, free = _figure(repl, "import gc")
        figures.update(heap_total=alloc + free, before=alloc)
        imported: dict[str, int] = {}
        figures["after_import_module"] = imported
        for module in codec.modules:  # one at a time: a failure names the module that did not fit
            # the board compiles the source as it imports it: a MemoryError here is the
            # compiler's RAM as much as the module's
            stage = f"compile+import {module}"
            imported[module] = _figure(repl, f"import {module}")[0]
        figures["after_import"] = imported[codec.modules[-1]]
        stage = "encode"
        figures["after_encode"] = _figure(repl, codec.encode)[0]
        try:
            wire = ast.literal_eval(repl.exec("print(repr(wire))").strip())
        except (ValueError, SyntaxError) as exc:
            raise ReplExecError(repl.port, f"ValueError: the board's wire bytes do not parse: "
                                           f"{exc}") from None
        figures["wire_bytes"] = len(wire)
        figures["wire_matches_cpython"] = wire == cpython_wire(Path(app_dir), codec)
        figures["fits"] = True
        stage = "peak"
        figures.update(_peak(repl, codec))
    except ReplExecError as exc:
        if stage == "peak":
            figures["peak_note"] = f"{exc.exception} with the collector off"
        else:
            figures["error"] = f"{stage}: {exc.exception}"
    finally:
        repl.soft_reset()
        for module in codec.modules:
            repl.remove_file(f"{module}.py")
    return HeapFigures(**figures)  # type: ignore[arg-type]



def _peak(repl: RawRepl, codec: AppCodec) -> dict[str, object]:
    repl.soft_reset()
    try:
        out = repl.exec(
            "import gc\ngc.collect()\ngc.disable()\n"
            f"import {', '.join(codec.modules)}\n{codec.encode}\n"
            "print(gc.mem_alloc())"
        )
    finally:
        repl.exec("import gc\ngc.enable()")
    return {"peak": int(out.split()[-1])}

// MicroPython 1.27 (webassembly port) driven like a board's raw REPL, one JSON line per command
// on stdin, one JSON line per answer on stdout (testbed/memory/wasm.py speaks it):
//   {"op": "reset", "heapsize": bytes}   a fresh interpreter whose first heap area has that size
//   {"op": "write", "name": "x.py", "text": "..."}   a file in its filesystem (not its heap)
//   {"op": "remove", "name": "x.py"}
//   {"op": "exec", "code": "..."}  -> {"ok": bool, "out": printed text, "error": "Type: message"}
// The port grows its heap by new areas when a collection cannot satisfy an allocation
// (micropython.mem_info() "GC: total" says how far it grew).
import { createInterface } from "node:readline";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

let mp = null;
let out = "";
const answer = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  try {
    if (cmd.op === "reset") {
      mp = await loadMicroPython({
        heapsize: cmd.heapsize ?? 1048576, stdout: (text) => { out += text + "\n"; },
        linebuffer: true,
      });
      answer({ ok: true, out: "" });
    } else if (cmd.op === "write") {
      mp.FS.writeFile("/" + cmd.name, cmd.text);
      answer({ ok: true, out: "" });
    } else if (cmd.op === "remove") {
      try { mp.FS.unlink("/" + cmd.name); } catch { /* not there */ }
      answer({ ok: true, out: "" });
    } else if (cmd.op === "exec") {
      out = "";
      try {
        mp.runPython(cmd.code);
        answer({ ok: true, out });
      } catch (error) {
        answer({ ok: false, out, error: error.type ? `${error.type}: ${error.message}` : String(error) });
      }
    } else {
      answer({ ok: false, out: "", error: `unknown op ${cmd.op}` });
    }
  } catch (error) {
    answer({ ok: false, out: "", error: String(error) });
  }
}

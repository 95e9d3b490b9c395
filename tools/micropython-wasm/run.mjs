// Runs Python code on MicroPython 1.27 (webassembly port). Input on stdin, one JSON object:
// {"heapsize": bytes, "files": {"name.py": "source", ...}, "code": "..."}; the files go into
// MicroPython's filesystem root (outside its heap), then the code runs. Output on stdout, one
// JSON object: {"ok": bool, "out": what the code printed, "error": "Type: message"}.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
let out = "";
const mp = await loadMicroPython({
  heapsize: job.heapsize ?? 1048576, stdout: (line) => { out += line + "\n"; }, linebuffer: true,
});
for (const [name, text] of Object.entries(job.files ?? {})) mp.FS.writeFile("/" + name, text);
try {
  mp.runPython(job.code);
  process.stdout.write(JSON.stringify({ ok: true, out }));
} catch (error) {
  const what = error.type ? `${error.type}: ${error.message}` : String(error);
  process.stdout.write(JSON.stringify({ ok: false, out, error: what }));
}

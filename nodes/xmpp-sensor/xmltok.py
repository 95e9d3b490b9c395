"""A small incremental XML tokenizer for XMPP streams, written for MicroPython.

Feed it bytes as they come off the socket, split anywhere (even inside a UTF-8 character);
it returns the complete events so far:
    ("start", name, {attr: value}), ("end", name), ("text", str)
A self-closing tag gives a start and an end. Entities (the five predefined ones and character
references) are decoded. XML declarations / processing instructions and comments are skipped.
Not handled, on purpose (RFC 6120 §11.1 forbids them in XMPP): DTDs, CDATA sections, entity
declarations; `<!` other than a comment raises ValueError. Namespaces are not resolved: a name
keeps its prefix ("stream:features") and xmlns attributes are ordinary attributes.

`Element` and `StanzaBuilder` turn the events at depth 2 (children of <stream:stream>) into
small trees, one per stanza / stream-level element.
"""

ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
SPACE = " \t\r\n"


def unescape(text):
    """Decode XML entity and character references (XML 1.0 §4.1, §4.6)."""
    if "&" not in text:
        return text
    out = []
    i = 0
    while True:
        j = text.find("&", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.find(";", j)
        if k < 0:
            raise ValueError("unterminated entity reference")
        name = text[j + 1 : k]
        if name.startswith("#"):
            code = int(name[2:], 16) if name.startswith("#x") else int(name[1:])
            if not 0 < code <= 0x10FFFF:  # chr() of a huge one is an OverflowError
                raise ValueError("character reference &%s; outside Unicode" % name)
            out.append(chr(code))
        elif name in ENTITIES:
            out.append(ENTITIES[name])
        else:
            raise ValueError("unknown entity &%s;" % name)
        i = k + 1


def escape(text):
    """Escape text or an attribute value for XML (quotes too: we quote attributes with ')."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&apos;")
        .replace('"', "&quot;")
    )


def _tag_end(buf, start):
    """Index of the '>' closing the tag that starts at `start`, quote-aware; -1 if not yet here."""
    quote = 0
    i = start + 1
    n = len(buf)
    while i < n:
        c = buf[i]
        if quote:
            if c == quote:
                quote = 0
        elif c == 0x22 or c == 0x27:  # " or '
            quote = c
        elif c == 0x3E:  # >
            return i
        i += 1
    return -1


def parse_attributes(text):
    """`a='1' b="2"` -> {"a": "1", "b": "2"} (values unescaped)."""
    attrs = {}
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in SPACE:
            i += 1
        if i >= n:
            return attrs
        eq = text.find("=", i)
        if eq < 0:
            raise ValueError("attribute without value: %r" % text[i:])
        name = text[i:eq].strip()
        i = eq + 1
        while i < n and text[i] in SPACE:
            i += 1
        if i >= n or text[i] not in "'\"":
            raise ValueError("unquoted attribute value for %r" % name)
        quote = text[i]
        close = text.find(quote, i + 1)
        if close < 0:
            raise ValueError("unterminated attribute value for %r" % name)
        attrs[name] = unescape(text[i + 1 : close])
        i = close + 1


class Tokenizer:
    """Incremental tokenizer: `feed(bytes) -> [events]`; see the module docstring."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        buf = self.buf
        events = []
        pos = 0
        n = len(buf)
        while pos < n:
            if buf[pos] != 0x3C:  # text up to the next '<' (only emitted once that '<' is here)
                lt = buf.find(b"<", pos)
                if lt < 0:
                    break
                events.append(("text", unescape(buf[pos:lt].decode())))
                pos = lt
                continue
            if buf[pos + 1 : pos + 4] == b"!--":
                close = buf.find(b"-->", pos + 4)
                if close < 0:
                    break
                pos = close + 3
                continue
            gt = _tag_end(buf, pos)
            if gt < 0:
                break
            tag = buf[pos + 1 : gt].decode()
            pos = gt + 1
            if tag.startswith("?"):
                continue
            if tag.startswith("!"):
                raise ValueError(
                    "DTD, CDATA and declarations are not allowed in XMPP (RFC 6120 §11.1)"
                )
            if tag.startswith("/"):
                events.append(("end", tag[1:].strip()))
                continue
            closed = tag.endswith("/")
            if closed:
                tag = tag[:-1]
            cut = 0
            while cut < len(tag) and tag[cut] not in SPACE:
                cut += 1
            name = tag[:cut]
            events.append(("start", name, parse_attributes(tag[cut:])))
            if closed:
                events.append(("end", name))
        self.buf = buf[pos:]
        return events


class Element:
    """A parsed element: tag (with prefix), attrs, children, text."""

    def __init__(self, tag, attrs):
        self.tag = tag
        self.attrs = attrs
        self.children = []
        self.text = ""

    def get(self, name, default=None):
        return self.attrs.get(name, default)

    @property
    def local(self):
        return self.tag.split(":")[-1]

    def find(self, local, xmlns=None):
        """First child with this local name (and namespace, when given), or None."""
        for child in self.children:
            if child.local == local and (xmlns is None or child.attrs.get("xmlns") == xmlns):
                return child
        return None

    def __repr__(self):
        return "<Element %s %r %d children>" % (self.tag, self.attrs, len(self.children))


class StanzaBuilder:
    """Feeds a Tokenizer; returns the stream header and the complete depth-2 elements.

    `feed(bytes) -> [item]` where item is ("open", attrs) for <stream:stream>, ("element",
    Element) for each complete top-level element, ("close",) for </stream:stream>.
    """

    def __init__(self):
        self.tokenizer = Tokenizer()
        self.stack = []
        self.depth = 0

    def feed(self, data):
        items = []
        for event in self.tokenizer.feed(data):
            kind = event[0]
            if kind == "start":
                self.depth += 1
                if self.depth == 1:
                    items.append(("open", event[2]))
                    continue
                element = Element(event[1], event[2])
                if self.stack:
                    self.stack[-1].children.append(element)
                self.stack.append(element)
            elif kind == "end":
                if self.depth == 0:  # nothing open: not-well-formed (RFC 6120 §4.9.3.13)
                    raise ValueError("end tag </%s> without a start tag" % event[1])
                self.depth -= 1
                if self.depth == 0:
                    items.append(("close",))
                    continue
                element = self.stack.pop()
                if not self.stack:
                    items.append(("element", element))
            elif self.stack:
                self.stack[-1].text += event[1]
            # text at depth 1 is whitespace keepalive (RFC 6120 §4.6.1): ignored
        return items

"""SASL mechanisms for the sensor: PLAIN (RFC 4616) and SCRAM-SHA-1 (RFC 5802), MicroPython-ready.

MicroPython has hashlib.sha1 but no hmac module, so HMAC (RFC 2104) and PBKDF2's Hi()
(RFC 5802 §2.2) are implemented here. Channel binding is not used ("n,," GS2 header), as
with SCRAM-SHA-1 without -PLUS.
"""

import binascii
import hashlib

BLOCK = 64  # SHA-1 block size in bytes (RFC 2104 §2: B)
#: the largest iteration count a server may ask for: RFC 7677 §4 wants at least 4096 and
#: servers use 4096..10000; far more would keep a small node busy for minutes
MAX_ITERATIONS = 65536


def b64(data):
    return binascii.b2a_base64(data).strip()


def unb64(data):
    # bytes in: MicroPython 1.27's binascii (webassembly port) refuses a str, CPython's takes both
    if isinstance(data, str):
        data = data.encode()
    return binascii.a2b_base64(data)


def sha1(data):
    return hashlib.sha1(data).digest()


def xor(a, b):
    return bytes([x ^ y for x, y in zip(a, b)])


# RFC 2104 §2: HMAC(K, text) = H(K XOR opad, H(K XOR ipad, text))
def hmac_sha1(key, message):
    if len(key) > BLOCK:
        key = sha1(key)
    key = key + b"\x00" * (BLOCK - len(key))
    inner = hashlib.sha1(bytes([k ^ 0x36 for k in key]))
    inner.update(message)
    outer = hashlib.sha1(bytes([k ^ 0x5C for k in key]))
    outer.update(inner.digest())
    return outer.digest()


# RFC 5802 §2.2: Hi(str, salt, i) = U1 XOR U2 XOR ... XOR Ui (PBKDF2 with HMAC-SHA-1, one block)
def hi(password, salt, iterations):
    u = hmac_sha1(password, salt + b"\x00\x00\x00\x01")
    result = u
    for _ in range(iterations - 1):
        u = hmac_sha1(password, u)
        result = xor(result, u)
    return result


# RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
def plain_message(user, password):
    return b"\x00" + user.encode() + b"\x00" + password.encode()


# RFC 5802 §5.1: saslname: "=" and "," escaped as =3D and =2C
def saslname(name):
    return name.replace("=", "=3D").replace(",", "=2C")


def parse_attributes(message):
    """`r=abc,s=xyz,i=4096` -> {"r": "abc", "s": "xyz", "i": "4096"} (RFC 5802 §5.1)."""
    out = {}
    for part in message.split(","):
        if len(part) >= 2 and part[1] == "=":
            out[part[0]] = part[2:]
    return out


class ScramSha1:
    """The client side of one SCRAM-SHA-1 exchange (RFC 5802 §3, §5).

    first() -> client-first-message; final(server_first) -> client-final-message;
    verify(server_final) checks the server signature (mutual authentication).
    """

    def __init__(self, user, password, nonce):
        self.user = user
        self.password = password
        self.nonce = nonce
        self.gs2_header = "n,,"
        self.server_signature = None

    def first_bare(self):
        return "n=" + saslname(self.user) + ",r=" + self.nonce

    def first(self):
        return (self.gs2_header + self.first_bare()).encode()

    def final(self, server_first):
        server_first = server_first.decode()
        attrs = parse_attributes(server_first)
        if "e" in attrs:
            raise ValueError("server error: " + attrs["e"])
        for name in "rsi":
            if name not in attrs:
                raise ValueError("server-first-message lacks %s=" % name)
        nonce, salt, iterations = attrs["r"], unb64(attrs["s"]), int(attrs["i"])
        if not 1 <= iterations <= MAX_ITERATIONS:  # a huge count would stall the sensor
            raise ValueError("iteration count %d outside 1..%d" % (iterations, MAX_ITERATIONS))
        if not nonce.startswith(self.nonce):
            raise ValueError("server nonce does not extend ours")
        salted = hi(self.password.encode(), salt, iterations)
        client_key = hmac_sha1(salted, b"Client Key")
        stored_key = sha1(client_key)
        without_proof = "c=" + b64(self.gs2_header.encode()).decode() + ",r=" + nonce
        auth_message = (self.first_bare() + "," + server_first + "," + without_proof).encode()
        client_signature = hmac_sha1(stored_key, auth_message)
        proof = xor(client_key, client_signature)
        server_key = hmac_sha1(salted, b"Server Key")
        self.server_signature = hmac_sha1(server_key, auth_message)
        return (without_proof + ",p=" + b64(proof).decode()).encode()

    def verify(self, server_final):
        attrs = parse_attributes(server_final.decode())
        if "e" in attrs:
            raise ValueError("server error: " + attrs["e"])
        if unb64(attrs.get("v", "")) != self.server_signature:
            raise ValueError("server signature mismatch")
        return True

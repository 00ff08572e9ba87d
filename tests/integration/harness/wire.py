"""Just enough TPM 2.0 marshalling for the integration tests: building commands and reading
responses byte by byte, written from TCG TPM 2.0 Library Part 2/3 (rev 1.59), independent of the
engine under test. Also the three byte-level transports the tests talk to a TPM through:

* the raw data port of a swtpm-style server (a command, then its response, on one TCP stream);
* the mssim command port (TPM_SEND_COMMAND framing of the TPM reference simulator);
* the swtpm control channel (u32 command code, struct, u32 result) and the mssim platform port.
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

# --- constants (Part 2) ----------------------------------------------------------------------

ST_NO_SESSIONS = 0x8001
ST_SESSIONS = 0x8002
ST_HASHCHECK = 0x8024

RS_PW = 0x40000009
RH_OWNER = 0x40000001
RH_NULL = 0x40000007
RH_LOCKOUT = 0x4000000A
RH_ENDORSEMENT = 0x4000000B
RH_PLATFORM = 0x4000000C

SU_CLEAR = 0x0000
SU_STATE = 0x0001

ALG = {"sha1": 0x0004, "sha256": 0x000B, "sha384": 0x000C, "sha512": 0x000D, "null": 0x0010,
       "rsa": 0x0001, "keyedhash": 0x0008, "aes": 0x0006, "ecc": 0x0023, "symcipher": 0x0025,
       "cfb": 0x0043, "hmac": 0x0005}
HASH_NAMES = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}
DIGEST_SIZE = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}

CC = {
    "ClockSet": 0x128, "HierarchyChangeAuth": 0x129, "PCR_Allocate": 0x12B, "ClockRateAdjust": 0x130,
    "PCR_Event": 0x13C, "PCR_Reset": 0x13D, "SequenceComplete": 0x13E, "IncrementalSelfTest": 0x142,
    "SelfTest": 0x143, "Startup": 0x144, "Shutdown": 0x145, "StirRandom": 0x146,
    "SequenceUpdate": 0x15C, "ContextLoad": 0x161, "ContextSave": 0x162, "FlushContext": 0x165,
    "GetCapability": 0x17A, "GetRandom": 0x17B, "GetTestResult": 0x17C, "Hash": 0x17D,
    "PCR_Read": 0x17E, "ReadClock": 0x181, "PCR_Extend": 0x182, "EventSequenceComplete": 0x185,
    "HashSequenceStart": 0x186, "TestParms": 0x18A,
}

# Response codes (Part 2, 6.6).
RC_SUCCESS = 0x000
RC_BAD_TAG = 0x01E
RC_INITIALIZE = 0x100
RC_FAILURE = 0x101
RC_SEQUENCE = 0x103
RC_COMMAND_SIZE = 0x142
RC_COMMAND_CODE = 0x143
RC_AUTHSIZE = 0x144
RC_AUTH_CONTEXT = 0x145
RC_VALUE = 0x084
RC_HIERARCHY = 0x085
RC_KEY_SIZE = 0x087
RC_MODE = 0x089
RC_TYPE = 0x08A
RC_HANDLE = 0x08B
RC_RANGE = 0x08D
RC_AUTH_FAIL = 0x08E
RC_SCHEME = 0x092
RC_SIZE = 0x095
RC_SYMMETRIC = 0x096
RC_TAG = 0x097
RC_SELECTOR = 0x098
RC_INSUFFICIENT = 0x09A
RC_BAD_AUTH = 0x0A2
RC_CURVE = 0x0A6
RC_LOCALITY = 0x907

CAP_ALGS = 0x0
CAP_HANDLES = 0x1
CAP_COMMANDS = 0x2
CAP_PCRS = 0x5
CAP_TPM_PROPERTIES = 0x6
CAP_PCR_PROPERTIES = 0x7

PT_FIXED = 0x100
PT_VAR = 0x200
PT_MAX_DIGEST = PT_FIXED + 32 + 5  # 0x125
PT_PCR_COUNT = PT_FIXED + 18       # 0x112
PT_MAX_COMMAND_SIZE = PT_FIXED + 30
PT_TOTAL_COMMANDS = PT_FIXED + 41  # 0x129
PT_LIBRARY_COMMANDS = PT_FIXED + 42
PT_STARTUP_CLEAR = PT_VAR + 1


def rc_param(base: int, n: int) -> int:
    """A format-one response code about parameter n (Part 2, 6.6.2)."""
    return base | 0x040 | (n << 8)


def rc_handle(base: int, n: int) -> int:
    return base | (n << 8)


def rc_session(base: int, n: int) -> int:
    return base | 0x800 | (n << 8)


def rc_base(rc: int) -> int:
    """The code without its handle/parameter/session number (format one keeps bits 0-5 + bit 7)."""
    return rc & 0xBF if rc & 0x80 else rc


# --- marshalling --------------------------------------------------------------------------------

def u8(v: int) -> bytes:
    return struct.pack(">B", v)


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def u64(v: int) -> bytes:
    return struct.pack(">Q", v)


def tpm2b(data: bytes) -> bytes:
    return u16(len(data)) + data


def pw_session(password: bytes = b"", attributes: int = 0x01) -> bytes:
    """One TPMS_AUTH_COMMAND for a password session (Part 1, 19.6.8): handle TPM_RS_PW, empty nonce,
    continueSession set (ignored for passwords), the password as hmac."""
    return u32(RS_PW) + tpm2b(b"") + u8(attributes) + tpm2b(password)


def command(cc: int, handles: bytes = b"", params: bytes = b"", sessions: list[bytes] | None = None,
            tag: int | None = None) -> bytes:
    """A complete command: header, handle area, optional authorization area, parameters."""
    if sessions is None:
        body = handles + params
        t = ST_NO_SESSIONS if tag is None else tag
    else:
        area = b"".join(sessions)
        body = handles + u32(len(area)) + area + params
        t = ST_SESSIONS if tag is None else tag
    return u16(t) + u32(10 + len(body)) + u32(cc) + body


def pcr_selection(banks: dict[str, list[int]], size_of_select: int = 3) -> bytes:
    """TPML_PCR_SELECTION for {bank: [pcr, ...]}."""
    out = u32(len(banks))
    for name, pcrs in banks.items():
        bitmap = bytearray(size_of_select)
        for p in pcrs:
            bitmap[p // 8] |= 1 << (p % 8)
        out += u16(ALG[name]) + u8(size_of_select) + bytes(bitmap)
    return out


def digest_values(digests: dict[str, bytes]) -> bytes:
    """TPML_DIGEST_VALUES."""
    out = u32(len(digests))
    for name, d in digests.items():
        out += u16(ALG[name]) + d
    return out


@dataclass
class Response:
    raw: bytes
    tag: int
    size: int
    rc: int
    body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> "Response":
        if len(raw) < 10:
            raise ValueError(f"response shorter than a header: {raw.hex()}")
        tag, size, rc = struct.unpack(">HII", raw[:10])
        return cls(raw, tag, size, rc, raw[10:])

    def params(self, handles: int = 0) -> bytes:
        """The parameter area of a successful response (skipping response handles and, with
        sessions, the parameterSize field)."""
        b = self.body[4 * handles:]
        if self.tag == ST_SESSIONS:
            (psize,) = struct.unpack(">I", b[:4])
            return b[4:4 + psize]
        return b


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("short read")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def tpm2b(self) -> bytes:
        return self.take(self.u16())

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def done(self) -> bool:
        return self.pos == len(self.data)


def parse_pcr_selection(r: Reader) -> dict[int, list[int]]:
    out = {}
    for _ in range(r.u32()):
        alg = r.u16()
        bitmap = r.take(r.u8())
        out[alg] = [i for i in range(len(bitmap) * 8) if bitmap[i // 8] & (1 << (i % 8))]
    return out


def parse_pcr_read(params: bytes) -> tuple[int, dict[int, list[int]], list[bytes]]:
    """PCR_Read response: (pcrUpdateCounter, selection out, digests)."""
    r = Reader(params)
    counter = r.u32()
    sel = parse_pcr_selection(r)
    digests = [r.tpm2b() for _ in range(r.u32())]
    assert r.done(), "trailing bytes in PCR_Read response"
    return counter, sel, digests


# --- transports ---------------------------------------------------------------------------------

class TransportClosed(Exception):
    pass


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = b""
    while len(buf) < n:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            raise TimeoutError(f"no answer within the deadline (got {len(buf)} of {n} bytes)")
        if not chunk:
            raise TransportClosed(f"peer closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def connect(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class RawConnection:
    """The data port of a swtpm-style server: a command's bytes, then the response, framed by the
    response header's size field."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.sock = connect(port, host)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        hdr = _recv_exact(self.sock, 10, deadline)
        (size,) = struct.unpack(">I", hdr[2:6])
        if size < 10 or size > 1 << 20:
            raise ValueError(f"implausible response size {size}: {hdr.hex()}")
        return hdr + _recv_exact(self.sock, size - 10, deadline)

    def transact(self, cmd: bytes, timeout: float = 10.0, locality: int = 0) -> bytes:
        if locality != 0:
            raise ValueError("the raw data port has no locality; use the control channel")
        self.send_raw(cmd)
        return self.read_response(timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# mssim (TPM reference simulator) command codes.
MS_SEND_COMMAND = 8
MS_REMOTE_HANDSHAKE = 15
MS_SESSION_END = 20
MS_STOP = 21
MS_POWER_ON = 1
MS_POWER_OFF = 2
MS_NV_ON = 11
MS_NV_OFF = 12


class MssimConnection:
    """The mssim command port: u32 TPM_SEND_COMMAND, u8 locality, u32 length, command; answered by
    u32 length, response, then a u32 acknowledgement (0)."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.sock = connect(port, host)

    def send_frame(self, cmd: bytes, locality: int = 0, declared_len: int | None = None) -> None:
        n = len(cmd) if declared_len is None else declared_len
        self.sock.sendall(u32(MS_SEND_COMMAND) + u8(locality) + u32(n) + cmd)

    def read_frame(self, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        (n,) = struct.unpack(">I", _recv_exact(self.sock, 4, deadline))
        if n > 1 << 20:
            raise ValueError(f"implausible mssim response length {n}")
        resp = _recv_exact(self.sock, n, deadline)
        (ack,) = struct.unpack(">I", _recv_exact(self.sock, 4, deadline))
        if ack != 0:
            raise ValueError(f"mssim acknowledgement {ack:#x} != 0")
        return resp

    def transact(self, cmd: bytes, timeout: float = 10.0, locality: int = 0) -> bytes:
        self.send_frame(cmd, locality)
        return self.read_frame(timeout)

    def close(self) -> None:
        try:
            self.sock.sendall(u32(MS_SESSION_END))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def mssim_platform(port: int, code: int, timeout: float = 10.0) -> int:
    """One mssim platform-port command (POWER_ON, NV_ON, ...): returns the u32 acknowledgement."""
    with connect(port) as s:
        s.sendall(u32(code))
        (ack,) = struct.unpack(">I", _recv_exact(s, 4, time.monotonic() + timeout))
        try:
            s.sendall(u32(MS_SESSION_END))
        except OSError:
            pass
        return ack


# swtpm control channel command codes (swtpm's ptm ioctl numbers).
CTRL_GET_CAPABILITY = 1
CTRL_INIT = 2
CTRL_SHUTDOWN = 3
CTRL_GET_TPMESTABLISHED = 4
CTRL_SET_LOCALITY = 5
CTRL_CANCEL_TPM_CMD = 9
CTRL_STORE_VOLATILE = 10
CTRL_RESET_TPMESTABLISHED = 11
CTRL_STOP = 14
CTRL_GET_CONFIG = 15
CTRL_SET_BUFFERSIZE = 17


def ctrl(port: int, code: int, payload: bytes = b"", resp_len: int = 4, timeout: float = 10.0) -> bytes:
    """One control-channel request on its own connection; returns the response (result first)."""
    with connect(port) as s:
        s.sendall(u32(code) + payload)
        return _recv_exact(s, resp_len, time.monotonic() + timeout)


def ctrl_result(port: int, code: int, payload: bytes = b"", resp_len: int = 4) -> int:
    return struct.unpack(">I", ctrl(port, code, payload, resp_len)[:4])[0]

"""Independent TPM 2.0 session client (written from Part 1, 19-21) for differential tests."""
import socket, struct, hashlib, hmac, os
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HASH = {0x0004: 'sha1', 0x000B: 'sha256', 0x000C: 'sha384', 0x000D: 'sha512'}
DSIZE = {0x0004: 20, 0x000B: 32, 0x000C: 48, 0x000D: 64}

def send(cmd, port):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(cmd)
    hdr = b''
    while len(hdr) < 10:
        c = s.recv(10 - len(hdr))
        if not c: raise IOError('eof')
        hdr += c
    size = struct.unpack('>I', hdr[2:6])[0]
    body = hdr
    while len(body) < size:
        body += s.recv(size - len(body))
    s.close()
    return body

def rc(r): return struct.unpack('>I', r[6:10])[0]

def H(alg, *parts):
    h = hashlib.new(HASH[alg])
    for p in parts: h.update(p)
    return h.digest()

def kdfa(alg, key, label, u, v, bits):
    out = b''; i = 1
    lab = label.encode() + b'\0'
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack('>I', i) + lab + u + v + struct.pack('>I', bits), HASH[alg]).digest()
        i += 1
    n = (bits + 7) // 8
    out = bytearray(out[:n])
    if bits % 8: out[0] &= (1 << (bits % 8)) - 1
    return bytes(out)

def b2(x): return struct.pack('>H', len(x)) + x
def u32(x): return struct.pack('>I', x)
def u16(x): return struct.pack('>H', x)

class Session:
    def __init__(self, handle, alg, nonce_caller, nonce_tpm, key=b'', sym=('null',), bound=None, policy=False):
        self.handle, self.alg, self.nc, self.nt, self.key, self.sym = handle, alg, nonce_caller, nonce_tpm, key, sym
        self.bound = bound   # (name, auth) if bound
        self.policy = policy
        self.auth_value_needed = False
        self.password_needed = False

def start_session(port, stype=0, alg=0x000B, sym=('null',), bind=0x40000007, bind_auth=b'', bind_name=None, nonce=None, tag=0x8001, raw=False):
    nonce = nonce if nonce is not None else os.urandom(DSIZE[alg])
    if sym[0] == 'null': symb = u16(0x0010)
    elif sym[0] == 'aes': symb = u16(0x0006) + u16(sym[1]) + u16(0x0043)
    elif sym[0] == 'xor': symb = u16(0x000A) + u16(sym[1])
    else: symb = sym[1]
    body = u32(0x40000007) + u32(bind) + b2(nonce) + b2(b'') + bytes([stype]) + symb + u16(alg)
    r = send(struct.pack('>HII', tag, 10 + len(body), 0x176) + body, port)
    if raw: return r
    assert rc(r) == 0, hex(rc(r))
    h = struct.unpack('>I', r[10:14])[0]
    n = struct.unpack('>H', r[14:16])[0]
    nt = r[16:16 + n]
    key = b''
    if bind != 0x40000007:
        key = kdfa(alg, bind_auth, 'ATH', nt, nonce, DSIZE[alg] * 8)
    s = Session(h, alg, nonce, nt, key, sym, policy=stype != 0)
    if bind != 0x40000007 and stype == 0:
        s.bound = (bind_name if bind_name is not None else u32(bind), bind_auth)
    return s

def cipher(s, key, newer, older, data, decrypt):
    if s.sym[0] == 'xor':
        mask = kdfa(s.alg, key, 'XOR', newer, older, 8 * len(data))
        return bytes(a ^ b for a, b in zip(data, mask))
    if s.sym[0] == 'aes':
        bits = s.sym[1]
        m = kdfa(s.alg, key, 'CFB', newer, older, bits + 128)
        k, iv = m[:bits // 8], m[bits // 8:]
        c = Cipher(algorithms.AES(k), modes.CFB(iv))
        op = c.decryptor() if decrypt else c.encryptor()
        return op.update(data) + op.finalize()
    return data

class Use:
    """One session's use in a command: session, attributes, entity authorized (handle, name, auth) or None."""
    def __init__(self, s, attrs=1, entity=None, password=None, hmac_override=None):
        self.s, self.attrs, self.entity, self.password, self.override = s, attrs, entity, password, hmac_override

def command(port, cc, handles, names, params, uses, tag=0x8002, rhandle=False):
    code, r, raw = command_raw(port, cc, handles, names, params, uses, tag)
    if code != 0 or tag != 0x8002:
        return code, r, raw
    try:
        p = response(raw, rhandle, uses, cc)
    except AssertionError as e:
        return 'VERIFY FAILED: ' + str(e), raw, raw
    return 0, p, raw

def command_raw(port, cc, handles, names, params, uses, tag=0x8002):
    """Sends a command with the given sessions; returns (rc, response params (decrypted), raw)."""
    # decrypt first parameter (TPM2B) with the decrypt session
    dec = [i for i, u in enumerate(uses) if u.s is not None and u.attrs & 0x20]
    enc = [i for i, u in enumerate(uses) if u.s is not None and u.attrs & 0x40]
    # new caller nonces
    for u in uses:
        if u.s is not None and u.s != 'pw':
            u.s.nc = os.urandom(len(u.s.nc))
    p = params
    if dec and len(p) >= 2:
        u = uses[dec[0]]
        key = u.s.key + (u.entity[2] if u.entity else b'')
        n = struct.unpack('>H', p[:2])[0]
        p = p[:2] + cipher(u.s, key, u.s.nc, u.s.nt, p[2:2 + n], False) + p[2 + n:]
    auth = b''
    for i, u in enumerate(uses):
        if u.s == 'pw':
            auth += u32(0x40000009) + b2(b'') + bytes([u.attrs]) + b2(u.password or b'')
            continue
        s = u.s
        cp = H(s.alg, u32(cc), *names, p)
        include = False
        if u.entity is not None:
            if s.policy: include = s.auth_value_needed or s.password_needed
            else: include = not (s.bound is not None and s.bound == (u.entity[1], u.entity[2]))
        key = s.key + (u.entity[2] if include else b'')
        extra = b''
        if i == 0 and u.entity is not None:
            if dec and dec[0] != 0: extra += uses[dec[0]].s.nt
            if enc and enc[0] != 0 and enc[0] != (dec[0] if dec else None): extra += uses[enc[0]].s.nt
        if u.override is not None:
            mac = u.override
        elif s.policy and s.password_needed:
            mac = u.entity[2]
        elif key == b'':
            mac = b''
        else:
            mac = hmac.new(key, cp + s.nc + s.nt + extra + bytes([u.attrs]), HASH[s.alg]).digest()
        u.include = include
        auth += u32(s.handle) + b2(s.nc) + bytes([u.attrs]) + b2(mac)
    body = b''.join(u32(h) for h in handles)
    if tag == 0x8002:
        body += u32(len(auth)) + auth
    body += p
    r = send(struct.pack('>HII', tag, 10 + len(body), cc) + body, port)
    code = rc(r)
    if code != 0 or tag != 0x8002:
        return code, r[10:], r
    # parse response
    off = 10
    # response handle? caller knows; we parse parameterSize after optional handle
    return code, r, r

def response(r, rhandle, uses, cc):
    """Verifies response HMACs independently and decrypts; returns params."""
    off = 10 + (4 if rhandle else 0)
    psize = struct.unpack('>I', r[off:off + 4])[0]
    params = r[off + 4: off + 4 + psize]
    a = off + 4 + psize
    enc = [i for i, u in enumerate(uses) if u.s is not None and u.s != 'pw' and u.attrs & 0x40]
    for i, u in enumerate(uses):
        n = struct.unpack('>H', r[a:a + 2])[0]; nonce = r[a + 2:a + 2 + n]; a += 2 + n
        attrs = r[a]; a += 1
        m = struct.unpack('>H', r[a:a + 2])[0]; mac = r[a + 2:a + 2 + m]; a += 2 + m
        if u.s == 'pw':
            assert nonce == b'' and attrs & 1 and mac == b'', 'pw response'
            continue
        s = u.s
        s.nt = nonce
        rp = H(s.alg, u32(0), u32(cc), params)
        key = s.key + (u.entity[2] if getattr(u, 'include', False) else b'')
        if s.policy and s.password_needed:
            assert mac == b'', 'policy password response hmac must be empty'
        elif key == b'' and not (u.override or False):
            pass
        else:
            exp = hmac.new(key, rp + s.nt + s.nc + bytes([attrs]), HASH[s.alg]).digest()
            assert mac == exp or (key == b'' and mac == b''), 'response HMAC mismatch in session %d' % i
        u.rattrs = attrs
    assert a == len(r), 'trailing bytes'
    if enc:
        u = uses[enc[0]]
        key = u.s.key + (u.entity[2] if u.entity else b'')
        n = struct.unpack('>H', params[:2])[0]
        params = params[:2] + cipher(u.s, key, u.s.nt, u.s.nc, params[2:2 + n], True) + params[2 + n:]
    return params

import sys, struct, socket
sys.path.insert(0, __import__('os').path.dirname(__import__('os').path.abspath(__file__)))
from sess import *

port = int(sys.argv[1])
def log(label, v):
    print('%-60s %s' % (label, v if isinstance(v, str) else hex(v)), flush=True)
def cmd(cc, body=b'', tag=0x8001):
    return send(struct.pack('>HII', tag, 10 + len(body), cc) + body, port)
def pwauth(p): return u32(9 + len(p)) + u32(0x40000009) + b2(b'') + b'\x01' + b2(p)
def ctrl_locality(l):
    s = socket.create_connection(('127.0.0.1', port + 1)); s.sendall(u32(5) + bytes([l])); s.recv(4); s.close()
def flush(h): return rc(cmd(0x165, u32(h)))

cmd(0x144, u16(0))
for pw in [b'', b'owner', b'newowner', b'pw', b'x']:
    if rc(cmd(0x129, u32(0x40000001) + pwauth(pw) + b2(b'pw'), 0x8002)) == 0: break
Z = b'\0' * 32
def h(*p): return H(0xB, *p)
cp = h(u32(0x129), u32(0x40000001), b2(b'\x07'))
nh = h(u32(0x40000001))
sel = u32(1) + u16(0xB) + b'\x03' + b'\x02\x00\x00'
branches = [
    [(0x16C, u32(0x129)), (0x16B, b'')],
    [(0x16C, u32(0x129)), (0x18C, b'')],
    [(0x16F, b'\x05')],
    [(0x187, b'')],
    [(0x17F, b2(b'') + sel)],
    [(0x16E, b2(cp))],
    [(0x170, b2(nh))],
    [(0x16C, u32(0x17B))],
]
def trial_digest(b):
    r = cmd(0x176, u32(0x40000007) * 2 + b2(b'\1' * 16) + b2(b'') + b'\x03' + u16(0x10) + u16(0xB))
    t = struct.unpack('>I', r[10:14])[0]
    for c, p in b: cmd(c, u32(t) + p)
    d = cmd(0x189, u32(t))[12:]
    flush(t)
    return d
digests = [trial_digest(b) for b in branches]
orlist = u32(8) + b''.join(b2(d) for d in digests)
policy = h(Z, u32(0x171), *digests)
log('owner policy', policy.hex())
if len(sys.argv) > 2: sys.exit(0)
if port == 2900:
    log('SetPrimaryPolicy', rc(cmd(0x12E, u32(0x40000001) + pwauth(b'pw') + b2(policy) + u16(0xB), 0x8002)))
owner = (0x40000001, u32(0x40000001), b'pw')

def session_for(i, stype=1, sym=('aes', 128)):
    s = start_session(port, stype=stype, sym=sym)
    for c, p in branches[i]:
        r = rc(cmd(c, u32(s.handle) + p))
        if r: log('branch %d cmd %x' % (i, c), r)
    r = rc(cmd(0x171, u32(s.handle) + orlist))
    if r: log('branch %d OR' % i, r)
    if i == 0: s.auth_value_needed = True
    if i == 1: s.password_needed = True
    return s

def hca(s, attrs=1, params=b2(b'pw'), hm=None, entity=owner):
    code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], params, [Use(s, attrs, entity, hmac_override=hm)])
    return code

s = session_for(0)
log('authvalue branch, decrypt', hca(s, 0x21))
log('reuse after success', hca(s))
flush(s.handle)
s = session_for(0)
log('authvalue branch wrong hmac', hca(s, hm=b'\0' * 32))
log('authvalue branch right after wrong', hca(s))
flush(s.handle)
s = session_for(1)
log('password branch', hca(s))
flush(s.handle)
s = session_for(1)
log('password branch wrong password', hca(s, entity=(0x40000001, u32(0x40000001), b'bad')))
log('password branch trailing zeros', hca(s, entity=(0x40000001, u32(0x40000001), b'pw\0\0')))
flush(s.handle)
s = session_for(2)
ctrl_locality(1)
log('locality branch at 1', hca(s))
ctrl_locality(2)
log('locality branch at 2', hca(s))
ctrl_locality(0)
flush(s.handle)
s = session_for(3)
log('pp branch', hca(s))
flush(s.handle)
s = session_for(4)
log('pcr branch, extend pcr1', rc(cmd(0x182, u32(1) + pwauth(b'') + u32(1) + u16(0xB) + b'\x07' * 32, 0x8002)))
log('pcr branch after extend', hca(s))
flush(s.handle)
s = session_for(4)
log('pcr branch, no change', hca(s))
flush(s.handle)
s = session_for(5)
log('cphash branch other params', hca(s, params=b2(b'\x08')))
log('cphash branch right params', hca(s, params=b2(b'\x07')))
flush(s.handle)
s = session_for(6)
log('namehash branch', hca(s))
flush(s.handle)
s = session_for(7)
log('cc branch other command', hca(s))
flush(s.handle)
t = session_for(0, stype=3)
log('trial session', hca(t))
flush(t.handle)
s = start_session(port, stype=1)
log('no policy commands', hca(s))
flush(s.handle)
s = start_session(port, stype=1, alg=0x4)
log('sha1 session', hca(s))
flush(s.handle)
# policy session on endorsement (no policy) and lockout (no policy)
s = session_for(0)
code, r, _ = command(port, 0x129, [0x4000000B], [u32(0x4000000B)], b2(b''), [Use(s, 1, (0x4000000B, u32(0x4000000B), b''))])
log('policy for endorsement without policy', code)
flush(s.handle)
# policy session as decrypt-only second session alongside a password
s = session_for(0)
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b'pw'), [Use('pw', 1, owner, password=b'pw'), Use(s, 0x20)])
log('policy session decrypt-only with password auth', code)
log('policy digest after decrypt-only use', cmd(0x189, u32(s.handle))[12:].hex()[:16])
flush(s.handle)
if port == 2900:
    log('SetPrimaryPolicy clear', rc(cmd(0x12E, u32(0x40000001) + pwauth(b'pw') + b2(b'') + u16(0x10), 0x8002)))

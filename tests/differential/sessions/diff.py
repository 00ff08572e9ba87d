import sys, struct, os, hashlib
sys.path.insert(0, __import__('os').path.dirname(__import__('os').path.abspath(__file__)))
from sess import *

port = int(sys.argv[1])
out = []
def log(label, v):
    print('%-60s %s' % (label, v if isinstance(v, str) else hex(v)), flush=True)

def cmd(cc, body=b'', tag=0x8001):
    return send(struct.pack('>HII', tag, 10 + len(body), cc) + body, port)

def getcap(cap, prop, count):
    return cmd(0x17A, u32(cap) + u32(prop) + u32(count))

def handles(prop):
    r = getcap(1, prop, 100)
    n = struct.unpack('>I', r[15:19])[0]
    return [struct.unpack('>I', r[19 + 4 * i:23 + 4 * i])[0] for i in range(n)]

def flush(h): return rc(cmd(0x165, u32(h)))

# start fresh
cmd(0x144, u16(0))
for h in handles(0x02000000) + handles(0x03000000) + handles(0x80000000):
    flush(h)
# owner auth empty (try a few known)
def pwauth(p): return u32(9 + len(p)) + u32(0x40000009) + b2(b'') + b'\x01' + b2(p)
for pw in [b'', b'owner', b'newowner', b'x', b'pw']:
    if rc(cmd(0x129, u32(0x40000001) + pwauth(pw) + b2(b''), 0x8002)) == 0: break
log('pcr allocation', getcap(5, 0, 10).hex())

def sas(body, tag=0x8001):
    return rc(cmd(0x176, body, tag))

NULL = 0x40000007
def sabody(tpmkey=NULL, bind=NULL, nonce=b'\x11' * 16, salt=b'', stype=0, sym=u16(0x10), alg=0x000B):
    return u32(tpmkey) + u32(bind) + b2(nonce) + b2(salt) + bytes([stype]) + sym + u16(alg)

# A. StartAuthSession errors
log('SAS nonce 15', sas(sabody(nonce=b'\x11' * 15)))
log('SAS nonce 33 sha256', sas(sabody(nonce=b'\x11' * 33)))
log('SAS nonce 21 sha1', sas(sabody(nonce=b'\x11' * 21, alg=4)))
log('SAS nonce 65', sas(sabody(nonce=b'\x11' * 65)))
log('SAS salt without key', sas(sabody(salt=b'\x01')))
log('SAS type 2', sas(sabody(stype=2)))
log('SAS type 4', sas(sabody(stype=4)))
log('SAS sym HMAC', sas(sabody(sym=u16(5))))
log('SAS sym SHA256', sas(sabody(sym=u16(0xB))))
log('SAS aes bits 100', sas(sabody(sym=u16(6) + u16(100) + u16(0x43))))
log('SAS aes cbc', sas(sabody(sym=u16(6) + u16(128) + u16(0x42))))
log('SAS aes mode null', sas(sabody(sym=u16(6) + u16(128) + u16(0x10))))
log('SAS aes mode 1', sas(sabody(sym=u16(6) + u16(128) + u16(0x1))))
log('SAS xor null', sas(sabody(sym=u16(0xA) + u16(0x10))))
log('SAS xor rsa', sas(sabody(sym=u16(0xA) + u16(0x1))))
log('SAS authHash null', sas(sabody(alg=0x10)))
log('SAS authHash sm3', sas(sabody(alg=0x12)))
log('SAS tpmKey not loaded', sas(sabody(tpmkey=0x80000000)))
log('SAS tpmKey 0x80000005', sas(sabody(tpmkey=0x80000005)))
log('SAS tpmKey owner', sas(sabody(tpmkey=0x40000001)))
log('SAS tpmKey persistent', sas(sabody(tpmkey=0x81000000)))
log('SAS bind transient not loaded', sas(sabody(bind=0x80000001)))
log('SAS bind AUTH_00', sas(sabody(bind=0x40000010)))
log('SAS bind NV', sas(sabody(bind=0x01000000)))
log('SAS bind persistent', sas(sabody(bind=0x81000000)))
log('SAS bind revoke', sas(sabody(bind=0x40000002)))
log('SAS bind PCR 24', sas(sabody(bind=24)))
log('SAS bind session', sas(sabody(bind=0x02000000)))
log('SAS trailing', sas(sabody() + b'\0'))
log('SAS short', sas(sabody()[:-1]))
pw = u32(0x40000009) + b2(b'') + b'\x01' + b2(b'')
log('SAS with password session', sas(u32(NULL) + u32(NULL) + u32(9) + pw + sabody()[8:], 0x8002))
# a sequence object as tpmKey
r = cmd(0x186, b2(b'') + u16(0xB))
seq = struct.unpack('>I', r[10:14])[0]
log('SAS tpmKey sequence', sas(sabody(tpmkey=seq)))
log('SAS tpmKey sequence, salt', sas(sabody(tpmkey=seq, salt=b'\x01')))
r = cmd(0x176, sabody(bind=seq))
log('SAS bind sequence', rc(r))
if rc(r) == 0: flush(struct.unpack('>I', r[10:14])[0])
flush(seq)
r = cmd(0x176, sabody(sym=u16(3) + u16(128) + u16(0x43)))
log('SAS tdes', rc(r))
if rc(r) == 0: flush(struct.unpack('>I', r[10:14])[0])

# B. slots
ss = []
for i in range(4):
    r = cmd(0x176, sabody())
    log('SAS slot %d' % i, rc(r))
    if rc(r) == 0: ss.append(struct.unpack('>I', r[10:14])[0])
log('handles', ' '.join(hex(h) for h in ss))
r = cmd(0x162, u32(ss[0]))
log('save session', rc(r))
ctx0 = r[10:]
log('save seq', hex(struct.unpack('>Q', ctx0[:8])[0]))
log('saved handle/hier', hex(struct.unpack('>I', ctx0[8:12])[0]) + ' ' + hex(struct.unpack('>I', ctx0[12:16])[0]))
log('loaded after save', ' '.join(hex(h) for h in handles(0x02000000)))
log('saved list', ' '.join(hex(h) for h in handles(0x03000000)))
log('save saved session', rc(cmd(0x162, u32(ss[0]))))
r = cmd(0x176, sabody())
log('SAS after save', rc(r))
s4 = struct.unpack('>I', r[10:14])[0]
log('SAS after save handle', hex(s4))
log('load with full slots', rc(cmd(0x161, ctx0)))
flush(s4)
r = cmd(0x161, ctx0)
log('load', rc(r) if rc(r) else hex(struct.unpack('>I', r[10:14])[0]))
log('load again', rc(cmd(0x161, ctx0)))
r = cmd(0x162, u32(ss[0]))
ctx1 = r[10:]
log('save again seq', hex(struct.unpack('>Q', ctx1[:8])[0]))
log('load stale ctx', rc(cmd(0x161, ctx0)))
log('flush saved', flush(ss[0]))
log('flush saved again', flush(ss[0]))
log('load flushed ctx', rc(cmd(0x161, ctx1)))
log('flush 0x03 of hmac', flush(ss[1] + 0x01000000))
log('flush 0x02000040', flush(0x02000040))
log('props', getcap(6, 0x203, 4).hex()[-64:])
for h in handles(0x02000000): flush(h)
# 64 active
allsaved = []
res = []
for i in range(66):
    r = cmd(0x176, sabody())
    if rc(r) != 0:
        res.append((i, rc(r))); break
    h = struct.unpack('>I', r[10:14])[0]
    r2 = cmd(0x162, u32(h))
    if rc(r2) != 0:
        res.append((i, 'save', rc(r2))); break
    allsaved.append(h)
log('64 active', str(res))
log('active props', getcap(6, 0x203, 4).hex()[-64:])
for h in allsaved: flush(h)

# C. HMAC authorization on HierarchyChangeAuth(owner)
def hca(uses, newauth=b'', entity=(0x40000001, u32(0x40000001), b'')):
    return command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(newauth), uses)

s = start_session(port, sym=('aes', 128))
code, r, _ = hca([Use(s, 1, (0x40000001, u32(0x40000001), b''))], b'owner')
log('hmac unbound hca', code)
# now owner auth 'owner'
e = (0x40000001, u32(0x40000001), b'owner')
code, r, _ = hca([Use(s, 1, e, hmac_override=b'\x00' * 32)], b'owner')
log('hmac wrong', code)
code, r, _ = hca([Use(s, 1, e, hmac_override=b'')], b'owner')
log('hmac empty (key nonempty)', code)
code, r, _ = hca([Use(s, 1, e, hmac_override=b'\x00' * 33)], b'owner')
log('hmac too long', code)
u = Use(s, 1, e)
code, r, _ = hca([u], b'owner')
log('hmac right', code)
if code == 0:
    log('hmac right response', 'verified')
# decrypt on newAuth with the auth session
u = Use(s, 0x21, e)
code, r, _ = hca([u], b'owner')
log('hmac decrypt', code)
if code == 0:
    log('hmac decrypt response', 'verified')
# check owner auth is still 'owner' by password
r = cmd(0x129, u32(0x40000001) + pwauth(b'owner') + b2(b'owner'), 0x8002)
log('owner pw after decrypt', rc(r))
# bound session
sb = start_session(port, sym=('aes', 256), bind=0x40000001, bind_auth=b'owner')
u = Use(sb, 0x21, e)
code, r, _ = hca([u], b'owner')
log('bound decrypt', code)
if code == 0:
    log('bound response', 'verified')
# bound session for endorsement
code, r, _ = command(port, 0x129, [0x4000000B], [u32(0x4000000B)], b2(b''), [Use(sb, 1, (0x4000000B, u32(0x4000000B), b''))])
log('bound used for endorsement', code)
# change auth with bound session (response uses new auth)
u = Use(sb, 0x21, e)
code, r, raw = command_raw(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b'newowner'), [u])
log('bound change owner auth', code)
if code == 0:
    u.entity = (0x40000001, u32(0x40000001), b'newowner')
    try:
        response(raw, False, [u], 0x129); log('change response uses new auth', 'yes')
    except AssertionError as x: log('change response uses new auth', 'no')
if code == 0:
    log('change response', 'verified with new auth')
e = (0x40000001, u32(0x40000001), b'newowner')
# bound session now: owner auth changed -> not bound any more -> includes auth
u = Use(sb, 1, e)
u_bound = Use(sb, 1, e)
sb.bound = None  # entity auth changed
code, r, _ = hca([u], b'newowner')
log('after auth change, bound session includes auth', code)
flush(sb.handle)
# XOR session
for alg in [4, 0xB, 0xC, 0xD]:
    sx = start_session(port, alg=alg, sym=('xor', alg))
    u = Use(sx, 0x21, e)
    code, r, _ = hca([u], b'newowner')
    log('xor %x decrypt' % alg, code)
    flush(sx.handle)
# XOR with a different hash in the sym def than authHash
sx = start_session(port, alg=0xB, sym=('xor', 4))
u = Use(sx, 0x21, e)
code, r, _ = hca([u], b'newowner')
log('xor sha1 def, sha256 session decrypt', code)
flush(sx.handle)
# encrypt-only session + hash
se = start_session(port, sym=('aes', 128), bind=0x40000001, bind_auth=b'newowner')
u = Use(se, 0x61)
code, r, _ = command(port, 0x17D, [], [], b2(b'hello world') + u16(0xB) + u32(0x40000007), [u])
log('hash dec+enc', code)
if code == 0:
    p = r
    n = struct.unpack('>H', p[:2])[0]
    log('hash digest correct', str(p[2:2 + n] == hashlib.sha256(b'hello world').digest()))
# audit
u = Use(se, 0x81)
code, r, _ = command(port, 0x17B, [], [], u16(8), [u])
log('audit getrandom', code)
if code == 0:
    log('audit resp attrs', hex(u.rattrs))
u = Use(se, 0x81 | 0x02)
code, r, _ = command(port, 0x17B, [], [], u16(8), [u])
log('audit exclusive getrandom', code)
if code == 0:
    log('audit resp attrs', hex(u.rattrs))
cmd(0x17B, u16(1))
u = Use(se, 0x81 | 0x02)
code, r, _ = command(port, 0x17B, [], [], u16(8), [u])
log('audit exclusive after other command', code)
u = Use(se, 0x81 | 0x04 | 0x02)
code, r, _ = command(port, 0x17B, [], [], u16(8), [u])
log('audit reset+exclusive', code)
if code == 0:
    log('audit resp attrs', hex(u.rattrs))
u = Use(se, 0x41)
code, r, _ = command(port, 0x17B, [], [], u16(16), [u])
log('encrypt getrandom', code)
if code == 0: log('getrandom resp', 'verified')
# errors
flush(s.handle)
sn = start_session(port)  # sym null
s = start_session(port, sym=('aes', 128))
code, r, _ = command(port, 0x17D, [], [], b2(b'x') + u16(0xB) + u32(0x40000007), [Use(sn, 0x21)])
log('decrypt with null sym', code)
code, r, _ = command(port, 0x17D, [], [], b2(b'x') + u16(0xB) + u32(0x40000007), [Use(sn, 0x41)])
log('encrypt with null sym', code)
flush(sn.handle)
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(s, 1, e), Use(se, 0x40)])
log('encrypt on hca', code)
code, r, _ = command(port, 0x182, [16], [u32(16)], u32(0), [Use(s, 1, (16, u32(16), b'')), Use(se, 0x20)])
log('decrypt on pcr_extend', code)
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(s, 0x21, e), Use(se, 0x20)])
log('two decrypt', code)
code, r, _ = command(port, 0x17B, [], [], u16(8), [Use(se, 0x41), Use(s, 0x40)])
log('two encrypt', code)
code, r, _ = command(port, 0x17B, [], [], u16(8), [Use(se, 0x81), Use(s, 0x80)])
log('two audit', code)
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(s, 1, e), Use(s, 0x20)])
log('same session twice', code)
sw = Session(s.handle + 0x01000000, s.alg, s.nc, s.nt, s.key, s.sym)
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(sw, 1, e)])
log('hmac session as 0x03', code)
code, r, _ = command(port, 0x17B, [], [], u16(8), [Use(se, 0x01)])
log('session authorizing nothing', code)
code, r, _ = command(port, 0x17D, [], [], b2(b'abc') + u16(0xB) + u32(0x40000007), [Use(se, 0x21)])
log('decrypt ok (baseline)', code)
raw = b2(b'abc') + u16(0xB) + u32(0x40000007)
# decrypt size past the parameters
for extra, label in [(1, 'size +1'), (2, 'size +2'), (7, 'size +7'), (8, 'size +8'), (100, 'size +100')]:
    pp = u16(3 + extra) + b'abc' + u16(0xB) + u32(0x40000007)
    code, r, _ = command(port, 0x17D, [], [], pp, [Use(se, 0x21)])
    log('decrypt ' + label, code)
r = cmd(0x162, u32(se.handle), 0x8002)
log('contextsave with sessions tag (no area)', rc(r))
body = u32(se.handle) + u32(9) + pw
log('contextsave with pw session', rc(cmd(0x162, body, 0x8002)))
log('flushcontext with pw', rc(cmd(0x165, u32(9) + pw + u32(se.handle), 0x8002)))
log('startup with pw', rc(cmd(0x144, u32(9) + pw + u16(0), 0x8002)))
# continueSession clear -> flushed
u = Use(se, 0x40)
code, r, _ = command(port, 0x17B, [], [], u16(8), [u])
log('continue clear', code)
log('flush after continue clear', flush(se.handle))
# session handle not loaded (saved)
sv = start_session(port)
cmd(0x162, u32(sv.handle))
code, r, _ = command(port, 0x17B, [], [], u16(8), [Use(sv, 0x41)])
log('saved session used', code)
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use('pw', 1, e, password=b'newowner'), Use(sv, 0x20)])
log('saved session as 2nd', code)
flush(sv.handle)
# trial session in auth area
st = start_session(port, stype=3)
code, r, _ = command(port, 0x17B, [], [], u16(8), [Use(st, 0x41)])
log('trial in auth area', code)
# policy session as audit
sp = start_session(port, stype=1, sym=('aes', 128))
code, r, _ = command(port, 0x17B, [], [], u16(8), [Use(sp, 0x81)])
log('policy audit', code)
code, r, _ = command(port, 0x17B, [], [], u16(8), [Use(sp, 0x41)])
log('policy encrypt only', code)

# policy session authorizing owner without owner policy
code, r, _ = hca([Use(sp, 1, e)], b'newowner')
log('policy session, no owner policy', code)
for h in handles(0x02000000) + handles(0x03000000): flush(h)

# D. policy commands
def pol(cc, h, params=b''):
    return cmd(cc, u32(h) + params)
st = start_session(port, stype=3)
sp = start_session(port, stype=1)
def dig(h):
    r = pol(0x189, h)
    return r[12:]
Z = b'\0' * 32
log('PolicyGetDigest fresh', dig(st.handle).hex())
log('PolicyCommandCode bad', rc(pol(0x16C, st.handle, u32(0x1FF))))
log('PolicyCommandCode hca', rc(pol(0x16C, st.handle, u32(0x129))))
log('digest', str(dig(st.handle) == H(0xB, Z, u32(0x16C), u32(0x129))))
log('PolicyCommandCode other', rc(pol(0x16C, st.handle, u32(0x17B))))
log('PolicyCommandCode same', rc(pol(0x16C, st.handle, u32(0x129))))
log('PolicyRestart', rc(pol(0x180, st.handle)))
log('digest after restart', dig(st.handle).hex())
log('PolicyCommandCode other after restart', rc(pol(0x16C, st.handle, u32(0x17B))))
pol(0x180, st.handle)
log('PolicyLocality 0', rc(pol(0x16F, st.handle, b'\0')))
log('PolicyLocality 1', rc(pol(0x16F, st.handle, b'\x01')))
log('PolicyLocality 2', rc(pol(0x16F, st.handle, b'\x02')))
log('PolicyLocality 3', rc(pol(0x16F, st.handle, b'\x03')))
log('PolicyLocality 0x20', rc(pol(0x16F, st.handle, b'\x20')))
d = H(0xB, H(0xB, Z, u32(0x16F), b'\x01'), u32(0x16F), b'\x03')
log('digest locality', str(dig(st.handle) == d))
pol(0x180, st.handle)
log('PolicyLocality 0x20', rc(pol(0x16F, st.handle, b'\x20')))
log('PolicyLocality 0x21', rc(pol(0x16F, st.handle, b'\x21')))
log('PolicyLocality 1 after ext', rc(pol(0x16F, st.handle, b'\x01')))
pol(0x180, st.handle)
log('PolicyAuthValue', rc(pol(0x16B, st.handle)))
log('PolicyPassword', rc(pol(0x18C, st.handle)))
log('digest authvalue/password', str(dig(st.handle) == H(0xB, H(0xB, Z, u32(0x16B)), u32(0x16B))))
pol(0x180, st.handle)
log('PolicyPhysicalPresence', rc(pol(0x187, st.handle)))
log('digest pp', str(dig(st.handle) == H(0xB, Z, u32(0x187))))
pol(0x180, st.handle)
A, B = b'\x01' * 32, b'\x02' * 32
log('PolicyOR 1', rc(pol(0x171, sp.handle, u32(1) + b2(A))))
log('PolicyOR 9', rc(pol(0x171, sp.handle, u32(9) + b2(A) * 9)))
log('PolicyOR no match', rc(pol(0x171, sp.handle, u32(2) + b2(A) + b2(B))))
log('PolicyOR match', rc(pol(0x171, sp.handle, u32(2) + b2(A) + b2(Z))))
log('digest or', str(dig(sp.handle) == H(0xB, Z, u32(0x171), A, Z)))
log('PolicyOR trial', rc(pol(0x171, st.handle, u32(2) + b2(A) + b2(B))))
log('digest or trial', str(dig(st.handle) == H(0xB, Z, u32(0x171), A, B)))
log('PolicyOR short digests', rc(pol(0x171, st.handle, u32(2) + b2(b'\x01') + b2(b''))))
pol(0x180, st.handle); pol(0x180, sp.handle)
log('PolicyCpHash 20', rc(pol(0x16E, sp.handle, b2(b'\x01' * 20))))
log('PolicyCpHash A', rc(pol(0x16E, sp.handle, b2(A))))
log('PolicyCpHash A again', rc(pol(0x16E, sp.handle, b2(A))))
log('PolicyCpHash B', rc(pol(0x16E, sp.handle, b2(B))))
log('PolicyNameHash after cp', rc(pol(0x170, sp.handle, b2(B))))
log('PolicyTemplate after cp', rc(pol(0x190, sp.handle, b2(B))))
log('PolicyDupSel after cp', rc(pol(0x188, sp.handle, b2(b'') + b2(b'') + b'\0')))
pol(0x180, sp.handle)
log('PolicyNameHash 20', rc(pol(0x170, sp.handle, b2(b'\x01' * 20))))
log('PolicyNameHash A', rc(pol(0x170, sp.handle, b2(A))))
log('PolicyNameHash A again', rc(pol(0x170, sp.handle, b2(A))))
log('PolicyCpHash after name', rc(pol(0x16E, sp.handle, b2(A))))
log('PolicyTemplate after name', rc(pol(0x190, sp.handle, b2(A))))
pol(0x180, sp.handle)
log('PolicyTemplate 20', rc(pol(0x190, sp.handle, b2(b'\x01' * 20))))
log('PolicyTemplate A', rc(pol(0x190, sp.handle, b2(A))))
log('PolicyTemplate A again', rc(pol(0x190, sp.handle, b2(A))))
log('PolicyTemplate B', rc(pol(0x190, sp.handle, b2(B))))
log('PolicyTemplate 20 after set', rc(pol(0x190, sp.handle, b2(b'\x01' * 20))))
log('PolicyCpHash after template', rc(pol(0x16E, sp.handle, b2(A))))
log('digest template', str(dig(sp.handle) == H(0xB, H(0xB, Z, u32(0x190), A), u32(0x190), A)))
pol(0x180, sp.handle)
log('PolicyDupSel', rc(pol(0x188, sp.handle, b2(b'on') + b2(b'np') + b'\x01')))
log('digest dupsel', str(dig(sp.handle) == H(0xB, Z, u32(0x188), b'on', b'np', b'\x01')))
log('PolicyDupSel again', rc(pol(0x188, sp.handle, b2(b'on') + b2(b'np') + b'\x00')))
pol(0x180, sp.handle)
log('PolicyCommandCode then DupSel', rc(pol(0x16C, sp.handle, u32(0x14B))))
log('PolicyDupSel after cc', rc(pol(0x188, sp.handle, b2(b'on') + b2(b'np') + b'\x00')))
log('PolicyDupSel includeObject 2', rc(pol(0x188, st.handle, b2(b'on') + b2(b'np') + b'\x02')))
for n in [66, 67, 68, 69, 70, 72, 80, 100, 132, 133]:
    log('PolicyDupSel name %d' % n, rc(pol(0x188, st.handle, b2(b'o' * n) + b2(b'np') + b'\x00')))
pol(0x180, sp.handle)
log('PolicyDupSel no include', rc(pol(0x188, sp.handle, b2(b'on') + b2(b'np') + b'\x00')))
log('digest dupsel no include', str(dig(sp.handle) == H(0xB, Z, u32(0x188), b'np', b'\x00')))
pol(0x180, sp.handle)
# counter timer
log('PCT offset 26', rc(pol(0x16D, sp.handle, b2(b'\x00') + u16(26) + u16(0))))
log('PCT offset 25 size 1', rc(pol(0x16D, sp.handle, b2(b'\x00') + u16(25) + u16(0))))
log('PCT offset 25 size 0', rc(pol(0x16D, sp.handle, b2(b'') + u16(25) + u16(0))))
log('PCT offset 20 size 8', rc(pol(0x16D, sp.handle, b2(b'\x00' * 8) + u16(20) + u16(0))))
log('PCT op 12', rc(pol(0x16D, sp.handle, b2(b'\x00') + u16(0) + u16(12))))
log('PCT safe == 1', rc(pol(0x16D, sp.handle, b2(b'\x01') + u16(24) + u16(0))))
log('PCT safe == 0', rc(pol(0x16D, sp.handle, b2(b'\x00') + u16(24) + u16(0))))
log('PCT time > 0 unsigned', rc(pol(0x16D, sp.handle, b2(b'\x00' * 8) + u16(0) + u16(3))))
log('PCT time < 0 signed', rc(pol(0x16D, sp.handle, b2(b'\x00' * 8) + u16(0) + u16(4))))
log('PCT time bitset', rc(pol(0x16D, sp.handle, b2(b'\x00' * 8) + u16(0) + u16(10))))
log('PCT time bitclear ff', rc(pol(0x16D, sp.handle, b2(b'\xff' * 8) + u16(0) + u16(11))))
log('PCT trial false', rc(pol(0x16D, st.handle, b2(b'\x00') + u16(24) + u16(0))))
log('PCT trial offset 26', rc(pol(0x16D, st.handle, b2(b'\x00') + u16(26) + u16(0))))
pol(0x180, st.handle)
pol(0x16D, st.handle, b2(b'\x05\x06') + u16(3) + u16(7))
log('digest pct', str(dig(st.handle) == H(0xB, Z, u32(0x16D), H(0xB, b'\x05\x06', u16(3), u16(7)))))
# PolicyPCR
pol(0x180, sp.handle); pol(0x180, st.handle)
sel = u32(1) + u16(0xB) + b'\x03' + b'\x02\x00\x00'  # PCR 1
r = cmd(0x17E, sel)
pcr16 = r[-32:]
pd = H(0xB, pcr16)
log('PolicyPCR wrong digest', rc(pol(0x17F, sp.handle, b2(A) + sel)))
log('PolicyPCR 20-byte digest', rc(pol(0x17F, sp.handle, b2(b'\x01' * 20) + sel)))
log('PolicyPCR right digest', rc(pol(0x17F, sp.handle, b2(pd) + sel)))
log('digest pcr', str(dig(sp.handle) == H(0xB, Z, u32(0x17F), sel, pd)))
log('PolicyPCR again', rc(pol(0x17F, sp.handle, b2(b'') + sel)))
log('extend pcr 1', rc(cmd(0x182, u32(1) + u32(9) + pw + u32(1) + u16(0xB) + b'\x07' * 32, 0x8002)))
log('PolicyPCR after extend', rc(pol(0x17F, sp.handle, b2(b'') + sel)))
log('PolicyPCR trial given digest', rc(pol(0x17F, st.handle, b2(A) + sel)))
log('digest pcr trial', str(dig(st.handle) == H(0xB, Z, u32(0x17F), sel, A)))
pol(0x180, st.handle)
sel2 = u32(2) + u16(0xB) + b'\x03' + b'\x02\x00\x00' + u16(0xD) + b'\x03' + b'\x01\x00\x00'  # sha512 not allocated
log('policypcr unallocated', rc(pol(0x17F, st.handle, b2(b'') + sel2)))
filt = u32(2) + u16(0xB) + b'\x03' + b'\x02\x00\x00' + u16(0xD) + b'\x03' + b'\x00\x00\x00'
r = cmd(0x17E, sel)
pcr16 = r[-32:]
log('digest pcr unallocated filtered', str(dig(st.handle) == H(0xB, Z, u32(0x17F), filt, H(0xB, pcr16))))
log('digest pcr unallocated unfiltered', str(dig(st.handle) == H(0xB, Z, u32(0x17F), sel2, H(0xB, pcr16))))
log('PolicyPCR sel count 5', rc(pol(0x17F, st.handle, b2(b'') + u32(5))))
log('PolicyPCR bad hash', rc(pol(0x17F, st.handle, b2(b'') + u32(1) + u16(0x12) + b'\x03\x00\x00\x01')))
# policy handle checks
log('policy cmd with hmac handle', rc(pol(0x189, 0x02000000)))
log('policy cmd with 0x03000020', rc(pol(0x189, 0x03000020)))
log('policy cmd with 0x03000040', rc(pol(0x189, 0x03000040)))
sh = start_session(port)
log('policy cmd on hmac session as 0x03', rc(pol(0x189, sh.handle + 0x01000000)))
log('contextsave hmac as 0x03', rc(cmd(0x162, u32(sh.handle + 0x01000000))))
log('contextsave 0x02000040', rc(cmd(0x162, u32(0x02000040))))
log('policy cmd with sessions + pw', rc(cmd(0x189, u32(sp.handle) + u32(9) + pw, 0x8002)))
flush(sh.handle); flush(st.handle)
# PolicyGetDigest with an encrypt session
se = start_session(port, sym=('aes', 128))
u = Use(se, 0x41)
code, r, _ = command(port, 0x189, [sp.handle], [u32(sp.handle)], b'', [u])
log('PolicyGetDigest encrypted', code)
if code == 0:
    p = r
    log('encrypted digest right', str(p[2:] == dig(sp.handle)))
# policy session used (encrypt-only) rolls nonce and resets policy
pol(0x16B, sp.handle)
before = dig(sp.handle)
sp.sym = ('null',)
code, r, _ = command(port, 0x17B, [], [], u16(4), [Use(sp, 0x01)])
log('policy session authorizing nothing', code)
for h in handles(0x02000000) + handles(0x03000000): flush(h)


# E. dictionary attack
import time
def lockout_pw(p, body_cc=0x13A, params=u32(3) + u32(1000) + u32(2)):
    return rc(cmd(body_cc, u32(0x4000000A) + pwauth(p) + params, 0x8002))
log('DA params (lockout pw empty)', lockout_pw(b''))
log('DA props', getcap(6, 0x20E, 4).hex()[-64:])
log('lockout wrong pw', lockout_pw(b'bad'))
log('lockout right pw while disabled', lockout_pw(b''))
log('permanent attrs', getcap(6, 0x200, 1).hex()[-8:])
time.sleep(2.6)
log('lockout right pw after recovery', lockout_pw(b''))
log('DA lock reset', rc(cmd(0x139, u32(0x4000000A) + pwauth(b''), 0x8002)))
sl = start_session(port, sym=('aes', 128), bind=0x4000000A, bind_auth=b'')
e = (0x40000001, u32(0x40000001), b'')
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(sl, 1, e, hmac_override=b'\x00' * 32)])
log('lockout-bound session wrong hmac for owner', code)
log('lockout pw after lockout-bound failure', lockout_pw(b''))
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(sl, 1, e)])
log('lockout-bound session right hmac while locked', code)
code, r, _ = command(port, 0x17B, [], [], u16(4), [Use(sl, 0x41)])
log('lockout-bound session encrypt-only while locked', code)
time.sleep(2.6)
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(sl, 1, e)])
log('lockout-bound session after recovery', code)
flush(sl.handle)
sb = start_session(port, sym=('aes', 128), bind=0x40000001, bind_auth=b'')
code, r, _ = command(port, 0x129, [0x40000001], [u32(0x40000001)], b2(b''), [Use(sb, 1, e, hmac_override=b'\x00' * 32)])
log('owner-bound session wrong hmac', code)
code, r, _ = command(port, 0x129, [0x4000000A], [u32(0x4000000A)], b2(b''), [Use(sb, 1, (0x4000000A, u32(0x4000000A), b''), hmac_override=b'\x00' * 32)])
log('owner-bound session wrong hmac for lockout', code)
log('lockout pw after that', lockout_pw(b''))
time.sleep(2.6)
flush(sb.handle)
sp = start_session(port, stype=1)
cmd(0x18C, u32(sp.handle))
sp.password_needed = True
code, r, _ = command(port, 0x129, [0x4000000A], [u32(0x4000000A)], b2(b''), [Use(sp, 1, (0x4000000A, u32(0x4000000A), b'bad'))])
log('policy password session for lockout without policy', code)
flush(sp.handle)
log('DA props end', getcap(6, 0x20E, 4).hex()[-64:])
log('DA params restore', lockout_pw(b'', params=u32(3) + u32(1000) + u32(1000)))

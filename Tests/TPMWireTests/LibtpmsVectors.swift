// Structures produced by libtpms 0.9.2 (swtpm 0.7.1) for the cross-check tests: a primary ECC
// signing key's TPM2_CreatePrimary outputs, a TPM2_Quote, a TPM2_Certify, a TPM2_GetTime and the
// TPM2_Sign / TPM2_VerifySignature pair. The generator (at the end of this file) checked with
// Python's hashlib that the Name libtpms returned is nameAlg || SHA-256(outPublic) and that
// creationHash is SHA-256(creationData). Regenerate all together: the key is fresh each run.

enum LibtpmsVectors {
    static let createPrimaryOutPublic = """
        00580023000b00040072000000100018000b0003001000202d71daddc6fc9afba0c2bcf4bcc4091c907220e0fafe0860
        8472f08c7ab88b7700207479e59f5d311cd5f3bf690b176f9c60ef493c06fd0b7d7f060d8adccb74468e
        """
    static let createPrimaryCreationData = """
        004400000001000b0307000000202ea9ab9198d1638007400cd2c3bef1cc745b864b76011a0e1bc52180ac6452d40100
        1000044000000100044000000100076f757473696465
        """
    static let createPrimaryCreationHash = "002040bb283d3ddaa0f3d889660ebccc72e5f30fc3b93dd7c58ee1dd9eba943dd30c"
    static let createPrimaryCreationTicket = """
        80214000000100407cddca7812d1027748f547e00c99b59ddc0d21c5d7aa4bf722dcdab279e76aaaf4f6e2b6149157cf
        9cbf0d0e105c6fa1c00639ff85799587d3fecec6714ae022
        """
    static let createPrimaryName = "0022000bf7a83ce629e300996f8aca1006bb580d5ddfa67e1117a1ed23e6a0747ab5a556"
    static let quoteAttest = """
        0082ff54434780180022000bf4d51505f9cfe24088c451c60085b784d71cef1c1a047ceb1a987552c8649e9a000b7175
        6f74652d6e6f6e6365000000000006019621f4d87c1aaebc9e015baf0b28d15cfcbd00000002000b0307000000040300
        000100205b517952cbe9c4c147bc3f3434f9d82409e76d09ea58905aefe7fb5415912d9a
        """
    static let quoteSignature = """
        0018000b00205c75d7a65ed9e60251577785df11a976912d7e6bc5919c98a676fb92b6396dfb0020ed33f28ee1c5f437
        a9d70d59b716729cd1ab7a19f33c55e47b674b4122e2c6bb
        """
    static let certifyAttest = """
        0094ff54434780170022000bf4d51505f9cfe24088c451c60085b784d71cef1c1a047ceb1a987552c8649e9a00076365
        7274696679000000000006019721f4d87c1aaebc9e015baf0b28d15cfcbd0022000bf7a83ce629e300996f8aca1006bb
        580d5ddfa67e1117a1ed23e6a0747ab5a5560022000bf4d51505f9cfe24088c451c60085b784d71cef1c1a047ceb1a98
        7552c8649e9a
        """
    static let timeAttest = """
        006aff54434780190022000bf4d51505f9cfe24088c451c60085b784d71cef1c1a047ceb1a987552c8649e9a00047469
        6d65000000000006019821f4d87c1aaebc9e015baf0b28d15cfcbd000000000006019800000000000601980000000100
        000000012019102300163636
        """
    static let signSignature = """
        0018000b00202eaf7fcea40efe5687c7be32091683f9c7fe6a74209c8ff3d68b8c1f6ad8f9a80020c66ee7f5146e2810
        f046e25921b337b8de9dbe6eeba4a6ee019f55c21ee75783
        """
    static let verifiedTicket = """
        802240000001004073c01af2304f52adc1cea04498bcc0e648a4d909ecead45b1dbc546f296101bdd7962df5fa54961f
        18149e3cca8b8508c90de35067367b074911b5c471e9f318
        """
}

/* The generator (swtpm listening on TCP port 24731; /tmp/sw/tpmsend.py sends one command):

# Structures produced by libtpms 0.9.2 (swtpm): a primary signing key's creation outputs, a quote,
# a certification, a time attestation and a verification ticket.
import hashlib, struct, sys
sys.path.insert(0, '/tmp/sw')
from tpmsend import send, cmd
PORT = 24731
def rc(r): return struct.unpack('>I', r[6:10])[0]
def b2(x): return struct.pack('>H', len(x)) + x
def pw(n=1):
    one = struct.pack('>IHBH', 0x40000009, 0, 0, 0)
    return struct.pack('>I', len(one) * n) + one * n
class R:
    def __init__(s, b): s.b, s.o = b, 0
    def take(s, n): v = s.b[s.o:s.o + n]; s.o += n; return v
    def u16(s): return struct.unpack('>H', s.take(2))[0]
    def u32(s): return struct.unpack('>I', s.take(4))[0]
    def tpm2b(s): n = s.u16(); return struct.pack('>H', n) + s.take(n)
for t in range(0x80000000, 0x80000010): send(cmd(0x165, struct.pack('>I', t)), PORT)
out = {}
# Unrestricted ECC P-256 ECDSA-SHA256 signing key: fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|sign.
parms = bytes.fromhex('0010 0018 000b 0003 0010'.replace(' ', ''))
tmpl = struct.pack('>HHI', 0x23, 0x0b, 0x00040072) + b2(b'') + parms + b2(b'') + b2(b'')
body = struct.pack('>I', 0x40000001) + pw() + b2(b2(b'') + b2(b'')) + b2(tmpl) + b2(b'outside') \
       + bytes.fromhex('00000001 000b 03 070000'.replace(' ', ''))
for _ in range(20):
    r = send(cmd(0x131, body, 0x8002), PORT)
    if rc(r) != 0x922: break
assert rc(r) == 0, hex(rc(r))
h = struct.unpack('>I', r[10:14])[0]
p = R(r[18:])
out['createPrimaryOutPublic'] = p.tpm2b()
out['createPrimaryCreationData'] = p.tpm2b()
out['createPrimaryCreationHash'] = p.tpm2b()
ticket_start = p.o
p.take(2); p.take(4); p.tpm2b()
out['createPrimaryCreationTicket'] = p.b[ticket_start:p.o]
out['createPrimaryName'] = p.tpm2b()
assert out['createPrimaryName'][2:] == b'\x00\x0b' + hashlib.sha256(out['createPrimaryOutPublic'][2:]).digest()
assert out['createPrimaryCreationHash'][2:] == hashlib.sha256(out['createPrimaryCreationData'][2:]).digest()
# Quote of PCRs 0-2 (SHA-256) and 16 (SHA-1).
sel = bytes.fromhex('00000002 000b 03 070000 0004 03 000001'.replace(' ', ''))
r = send(cmd(0x158, struct.pack('>I', h) + pw() + b2(b'quote-nonce') + struct.pack('>H', 0x10) + sel, 0x8002), PORT)
assert rc(r) == 0, hex(rc(r))
p = R(r[14:])
out['quoteAttest'] = p.tpm2b()
s0 = p.o; alg = p.u16(); p.u16(); p.tpm2b(); p.tpm2b()
out['quoteSignature'] = p.b[s0:p.o]
# Certify the key by itself.
r = send(cmd(0x148, struct.pack('>II', h, h) + pw(2) + b2(b'certify') + struct.pack('>H', 0x10), 0x8002), PORT)
assert rc(r) == 0, hex(rc(r))
p = R(r[14:])
out['certifyAttest'] = p.tpm2b()
# GetTime (privacy admin: endorsement).
r = send(cmd(0x14C, struct.pack('>II', 0x4000000B, h) + pw(2) + b2(b'time') + struct.pack('>H', 0x10), 0x8002), PORT)
assert rc(r) == 0, hex(rc(r))
p = R(r[14:])
out['timeAttest'] = p.tpm2b()
# Sign a digest, then verify: a TPMT_TK_VERIFIED.
digest = hashlib.sha256(b'message').digest()
hashcheck = struct.pack('>HI', 0x8024, 0x40000007) + b2(b'')
r = send(cmd(0x15D, struct.pack('>I', h) + pw() + b2(digest) + struct.pack('>H', 0x10) + hashcheck, 0x8002), PORT)
assert rc(r) == 0, hex(rc(r))
sig = r[14:]
sig = sig[:len(sig) - 5]  # response auth area: nonce(2) attrs(1) hmac(2)
out['signSignature'] = sig
r = send(cmd(0x177, struct.pack('>I', h) + b2(digest) + sig), PORT)
assert rc(r) == 0, hex(rc(r))
out['verifiedTicket'] = r[10:]
send(cmd(0x165, struct.pack('>I', h)), PORT)
for k, v in out.items():
    print(k, v.hex())
*/

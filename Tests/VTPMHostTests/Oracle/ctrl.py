#!/usr/bin/env python3
"""Records swtpm's control-channel answers (the expected values in ControlChannelTests).

Start a reference swtpm, then run this against its control port:
    swtpm socket --tpm2 --server type=tcp,port=P --ctrl type=tcp,port=Q --tpmstate dir=DIR \
        --flags not-need-init --seccomp action=none &
    python3 ctrl.py Q [name ...]
Each request goes in one write on its own connection; the answer is whatever arrives within
0.8 s (an incomplete request gets no answer: swtpm closes the connection after 500 ms).
The sequence stops and restarts the TPM, so run it on a fresh instance. Run it against
`vtpm swtpm socket ...` the same way to compare.
"""
import socket, struct, sys, time
def ctrl(port, data, wait=1.0, read=True):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(data)
    s.settimeout(wait)
    out = b''
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out
def c(code, body=b''): return struct.pack('>I', code) + body
if __name__ == '__main__':
    port = int(sys.argv[1])
    tests = [
     ('GET_CAPABILITY', c(1)),
     ('GET_CAPABILITY+junk', c(1, b'\0\0\0\0')),
     ('GET_TPMESTABLISHED', c(4)),
     ('GET_TPMESTABLISHED+junk', c(4, b'\0')),
     ('GET_CONFIG', c(15)),
     ('SET_LOCALITY 0', c(5, b'\0\0\0\0')),
     ('SET_LOCALITY 3', c(5, b'\3\0\0\0')),
     ('SET_LOCALITY 4', c(5, b'\4\0\0\0')),
     ('SET_LOCALITY 5', c(5, b'\5\0\0\0')),
     ('SET_LOCALITY 1 byte', c(5, b'\0')),
     ('SET_LOCALITY 0 short', c(5)),
     ('SET_LOCALITY 0 back', c(5, b'\0\0\0\0')),
     ('RESET_TPMESTABLISHED 3', c(11, b'\3\0\0\0')),
     ('RESET_TPMESTABLISHED 0', c(11, b'\0\0\0\0')),
     ('RESET_TPMESTABLISHED 5', c(11, b'\5\0\0\0')),
     ('CANCEL', c(9)),
     ('STORE_VOLATILE', c(10)),
     ('SET_BUFFERSIZE 0 (running)', c(17, b'\0\0\0\0')),
     ('SET_BUFFERSIZE 1000 (running)', c(17, struct.pack('>I', 1000))),
     ('GET_INFO 1', c(18, struct.pack('>QII', 1, 0, 0))),
     ('GET_INFO 2', c(18, struct.pack('>QII', 2, 0, 0))),
     ('GET_INFO 3', c(18, struct.pack('>QII', 3, 0, 0))),
     ('GET_INFO 4', c(18, struct.pack('>QII', 4, 0, 0))),
     ('GET_INFO 0', c(18, struct.pack('>QII', 0, 0, 0))),
     ('GET_INFO 1 off 10', c(18, struct.pack('>QII', 1, 10, 0))),
     ('GET_INFO 1 off 1000', c(18, struct.pack('>QII', 1, 1000, 0))),
     ('LOCK_STORAGE', c(19, b'\0\0\0\0')),
     ('HASH_START', c(6)),
     ('HASH_END', c(8)),
     ('unknown 0', c(0)),
     ('unknown 20', c(20)),
     ('unknown 0x12345678', c(0x12345678, b'abc')),
     ('short 2 bytes', b'\0\0'),
     ('INIT short', c(2, b'\0')),
     ('STOP', c(14)),
     ('GET_TPMESTABLISHED stopped', c(4)),
     ('CANCEL stopped', c(9)),
     ('STORE_VOLATILE stopped', c(10)),
     ('SET_LOCALITY 2 stopped', c(5, b'\2\0\0\0')),
     ('RESET_EST stopped', c(11, b'\0\0\0\0')),
     ('GET_CONFIG stopped', c(15)),
     ('SET_BUFFERSIZE 0 stopped', c(17, b'\0\0\0\0')),
     ('SET_BUFFERSIZE 1000 stopped', c(17, struct.pack('>I', 1000))),
     ('SET_BUFFERSIZE 10 stopped', c(17, struct.pack('>I', 10))),
     ('SET_BUFFERSIZE 100000 stopped', c(17, struct.pack('>I', 100000))),
     ('SET_BUFFERSIZE 4096 stopped', c(17, struct.pack('>I', 4096))),
     ('GET_INFO 1 stopped', c(18, struct.pack('>QII', 1, 0, 0))),
     ('GET_STATEBLOB stopped', c(12, struct.pack('>III', 0, 1, 0))),
     ('INIT 0', c(2, b'\0\0\0\0')),
     ('INIT 1', c(2, b'\0\0\0\1')),
     ('GET_STATEBLOB 1 off 0 (hdr)', c(12, struct.pack('>III', 0, 1, 0))),
     ('GET_STATEBLOB 9', c(12, struct.pack('>III', 0, 9, 0))),
     ('SET_STATEBLOB running', c(13, struct.pack('>III', 0, 1, 0))),
     ('STOP+junk', c(14, b'\0')),
     ('SET_DATAFD tcp', c(16)),
     ('SHUTDOWN+junk', c(3, b'\0')),
    ]
    only = sys.argv[2:] 
    for name, data in tests:
        if only and name not in only: continue
        t = time.time()
        r = ctrl(port, data, wait=0.8)
        if name.startswith('GET_STATEBLOB 1'): r = r[:16] + b'...'
        print(f'{name!r}: {r.hex()}  {r[12:]!r}' if name.startswith('GET_INFO') else f'{name!r}: {r.hex()} ({time.time()-t:.2f}s)')

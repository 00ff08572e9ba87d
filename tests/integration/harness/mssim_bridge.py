"""An mssim front end for a swtpm-style server, so that the tests written for the mssim transport
(`vtpm sim`) can be validated against swtpm, which speaks only its own protocol.

Command port P: TPM_SEND_COMMAND frames are forwarded to the server's raw data port (one upstream
connection per client connection), the locality through the control channel's SET_LOCALITY.
Platform port P+1: POWER_ON after POWER_OFF becomes the control channel's INIT (a _TPM_Init: the
TPM needs Startup again), POWER_OFF becomes STOP; NV_ON/OFF, CANCEL and physical presence are
acknowledged. This is test scaffolding, not a product: it serves the tests' own reference runs.

Usage: python3 -m harness.mssim_bridge --port P --tpm-port S --ctrl-port C
"""
from __future__ import annotations

import argparse
import socket
import struct
import threading

from . import wire


class Bridge:
    def __init__(self, tpm_port: int, ctrl_port: int):
        self.tpm_port = tpm_port
        self.ctrl_port = ctrl_port
        self.lock = threading.Lock()
        self.locality = 0
        self.powered = True  # the upstream server runs with --flags not-need-init

    def recv_exact(self, s: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def serve_command(self, client: socket.socket) -> None:
        upstream = None
        try:
            while True:
                (code,) = struct.unpack(">I", self.recv_exact(client, 4))
                if code == wire.MS_SEND_COMMAND:
                    locality = self.recv_exact(client, 1)[0]
                    (n,) = struct.unpack(">I", self.recv_exact(client, 4))
                    if n > 1 << 20:
                        return
                    cmd = self.recv_exact(client, n)
                    with self.lock:
                        if locality != self.locality:
                            wire.ctrl(self.ctrl_port, wire.CTRL_SET_LOCALITY, bytes([locality, 0, 0, 0]))
                            self.locality = locality
                        if upstream is None:
                            upstream = wire.RawConnection(self.tpm_port)
                        upstream.send_raw(cmd)
                        resp = upstream.read_response(timeout=60)
                    client.sendall(wire.u32(len(resp)) + resp + wire.u32(0))
                elif code == wire.MS_REMOTE_HANDSHAKE:
                    self.recv_exact(client, 4)  # client version
                    client.sendall(wire.u32(1) + wire.u32(0) + wire.u32(0))
                elif code in (wire.MS_SESSION_END, wire.MS_STOP):
                    return
                else:
                    return
        except (EOFError, OSError, ValueError, TimeoutError):
            return
        finally:
            if upstream is not None:
                upstream.close()
            client.close()

    def serve_platform(self, client: socket.socket) -> None:
        try:
            while True:
                (code,) = struct.unpack(">I", self.recv_exact(client, 4))
                if code == wire.MS_SESSION_END:
                    return
                with self.lock:
                    if code == wire.MS_POWER_ON and not self.powered:
                        wire.ctrl(self.ctrl_port, wire.CTRL_INIT, wire.u32(0))
                        self.powered = True
                    elif code == wire.MS_POWER_OFF and self.powered:
                        wire.ctrl(self.ctrl_port, wire.CTRL_STOP)
                        self.powered = False
                client.sendall(wire.u32(0))
        except (EOFError, OSError):
            return
        finally:
            client.close()

    def listen(self, port: int, handler) -> None:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(8)

        def loop():
            while True:
                c, _ = srv.accept()
                threading.Thread(target=handler, args=(c,), daemon=True).start()

        threading.Thread(target=loop, daemon=True).start()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tpm-port", type=int, required=True)
    ap.add_argument("--ctrl-port", type=int, required=True)
    a = ap.parse_args()
    b = Bridge(a.tpm_port, a.ctrl_port)
    b.listen(a.port, b.serve_command)
    b.listen(a.port + 1, b.serve_platform)
    threading.Event().wait()


if __name__ == "__main__":
    main()

import TPMEngine
import TPMWire

/// Command building and response checks shared by the engine targets.
public enum Wire {
    public static func command(_ cc: TPMCC, tag: TPMST = .noSessions, _ body: [UInt8] = []) -> [UInt8] {
        var w = TPMWriter()
        w.u16(tag.rawValue)
        w.u32(UInt32(10 + body.count))
        w.u32(cc.rawValue)
        w.bytes(body)
        return w.bytes
    }

    /// Handles, an authorization area of one password session per entry of `passwords`, then
    /// the parameters (a TPM_ST_SESSIONS command body).
    public static func withPasswords(handles: [UInt32], passwords: [[UInt8]], params: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        for h in handles { w.u32(h) }
        var a = TPMWriter()
        for p in passwords {
            a.u32(TPMHandle.passwordSession.rawValue)
            a.sized([UInt8]())
            a.u8(1)
            a.sized(p)
        }
        w.u32(UInt32(a.count))
        w.bytes(a.bytes)
        w.bytes(params)
        return w.bytes
    }

    public static func responseCode(_ r: [UInt8]) -> UInt32 {
        guard r.count >= 10 else { return 0xFFFF_FFFF }
        return r[6..<10].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Splits fuzz input into commands by the size field of each header: a size below the
    /// header or beyond the input makes the rest of the input the last command.
    public static func split(_ input: [UInt8], max: Int = 64) -> [[UInt8]] {
        var out = [[UInt8]]()
        var i = 0
        while i < input.count, out.count < max {
            let left = input.count - i
            var n = left
            if left >= 10 {
                let size = Int(input[i + 2]) << 24 | Int(input[i + 3]) << 16 | Int(input[i + 4]) << 8 | Int(input[i + 5])
                if size >= 10 && size <= left { n = size }
            }
            out.append(Array(input[i..<i + n]))
            i += n
        }
        return out
    }

    /// What every response must be, whatever the command: a header with tag TPM_ST_NO_SESSIONS
    /// or TPM_ST_SESSIONS and a size equal to its length; an error response is the bare
    /// header with TPM_ST_NO_SESSIONS (Part 1, 18.4; the integration suite checks the same).
    public static func checkResponse(_ r: [UInt8], command: [UInt8]) {
        func fail(_ why: String) -> Never {
            fuzzFailure("\(why); response \(hex(r.prefix(64))) to command", input: command)
        }
        guard r.count >= 10 else { fail("response shorter than a header") }
        let tag = UInt16(r[0]) << 8 | UInt16(r[1])
        guard tag == TPMST.noSessions.rawValue || tag == TPMST.sessions.rawValue else { fail("bad tag") }
        let size = Int(r[2]) << 24 | Int(r[3]) << 16 | Int(r[4]) << 8 | Int(r[5])
        guard size == r.count else { fail("size field \(size) != length \(r.count)") }
        guard size <= TPMLimits.maxResponseSize else { fail("response larger than MAX_RESPONSE_SIZE") }
        if responseCode(r) != 0 {
            guard r.count == 10, tag == TPMST.noSessions.rawValue else { fail("error response is not a bare header") }
        }
    }
}

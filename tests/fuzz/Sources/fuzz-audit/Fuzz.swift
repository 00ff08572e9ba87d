import AgentCore
import FuzzSupport

// The agent's exec-event source as it runs on audit netlink datagrams: AuditNetlink.split, then
// every record of type 1300-1399 through AuditRecord(type:text:) and ExecEventAssembler, as
// Agent does. The input is one or more datagrams (netlink messages, little-endian headers).
// Properties: no trap; split never yields more bytes than it was given; a parsed record printed
// back as `audit(TIME:SERIAL): key=value ...` parses to the same record; the assembler stays
// within its bound and every event it completes has a positive pid; a final flush empties it.

/// A netlink message: nlmsghdr (len, type, flags, seq, pid; host order, little-endian here)
/// and the payload, padded to 4 octets.
func netlink(_ type: UInt16, _ text: String) -> [UInt8] {
    let payload = Array(text.utf8)
    let len = UInt32(16 + payload.count)
    var out = withUnsafeBytes(of: len.littleEndian, Array.init) + withUnsafeBytes(of: type.littleEndian, Array.init)
    out += [0, 0] + [0, 0, 0, 0] + [0, 0, 0, 0] + payload
    while out.count % 4 != 0 { out.append(0) }
    return out
}

/// Seeds: the records the kernel sends for an execve (x86_64 and aarch64), a hex-encoded path
/// and argv split over records, a failed exec, interleaved events and records of other types.
func seeds() -> [(name: String, bytes: [UInt8])] {
    let ts = "audit(1700000000.123:"
    func exec(_ serial: Int, arch: String = "c000003e", syscall: Int = 59, success: String = "yes", exe: String = "\"/usr/bin/ls\"")
        -> [UInt8]
    {
        netlink(
            1300,
            ts + "\(serial)): arch=\(arch) syscall=\(syscall) success=\(success) exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 "
                + "ppid=100 pid=\(200 + serial) auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 "
                + "comm=\"ls\" exe=\(exe) subj=unconfined key=\"vtpm-exec\"\u{1D}ARCH=x86_64 SYSCALL=execve AUID=\"user\" UID=\"root\"")
            + netlink(1309, ts + "\(serial)): argc=3 a0=\"ls\" a1=\"-l\" a2=2F746D702F6120620A")
            + netlink(1307, ts + "\(serial)): cwd=\"/root\"")
            + netlink(
                1302,
                ts + "\(serial)): item=0 name=\"/usr/bin/ls\" inode=1234 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL")
            + netlink(1302, ts + "\(serial)): item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=99 dev=08:01 mode=0100755 nametype=NORMAL")
            + netlink(1327, ts + "\(serial)): proctitle=6C73002D6C")
            + netlink(1320, ts + "\(serial)): ")
    }
    let split = netlink(1309, ts + "7): argc=2 a0_len=10 a0[0]=\"hello\" a0[1]=\"world\" a1=\"x\"")
    return [
        ("exec", exec(1)),
        ("exec-aarch64", exec(2, arch: "c00000b7", syscall: 221)),
        ("exec-hex-exe", exec(3, exe: "2F746D702F7765697264206E616D65")),
        ("exec-failed", exec(4, success: "no")),
        ("execveat", exec(5, syscall: 322)),
        ("interleaved", exec(6) + split + exec(8) + netlink(1100, ts + "9): pid=1 msg='op=login acct=\"root\" res=success'")),
        ("no-eoe", Array(exec(10).dropLast(netlink(1320, ts + "10): ").count))),
        ("null-name", netlink(1302, ts + "11): item=0 name=(null) inode=? dev=? nametype=UNKNOWN") + netlink(1320, ts + "11): ")),
    ]
}

/// A record as the kernel would print it (values keep their quotes).
func render(_ r: AuditRecord) -> [UInt8] {
    var text = "audit(\(r.timestamp):\(r.serial)):"
    for f in r.fields { text += " \(f.key)=\(f.value)" }
    return Array(text.utf8)
}

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    writeSeedsIfAsked(seeds())
    let input = fuzzInput(data, size)
    let messages = AuditNetlink.split(input)
    fuzzCheck(messages.reduce(0) { $0 + 16 + $1.1.count } <= input.count, "split yielded more bytes than the datagram")
    var assembler = ExecEventAssembler()
    func deliver(_ events: [Result<ExecEvent, ExecAssemblyError>]) {
        for case .success(let e) in events {
            fuzzCheck(e.pid > 0, "exec event \(e.serial) with pid \(e.pid)")
            fuzzCheck(e.paths.count <= AuditLimits.maxRecordsPerEvent, "event with \(e.paths.count) paths")
            _ = e.executedPath
        }
    }
    for (type, payload) in messages where type >= 1300 && type < 1400 {
        guard let record = try? AuditRecord(type: type, text: payload) else { continue }
        fuzzCheck(record.fields.count <= AuditLimits.maxFields, "record with \(record.fields.count) fields")
        let printed = render(record)
        if printed.count <= AuditLimits.maxRecordSize {
            guard let again = try? AuditRecord(type: type, text: printed) else {
                fuzzFailure("a parsed record printed back does not parse: \(String(decoding: printed.prefix(200), as: UTF8.self))")
            }
            // The parser drops trailing NULs and newlines of a record (the kernel's terminator), so
            // a last unquoted value ending in them comes back without them.
            var expected = record
            if var last = expected.fields.popLast() {
                while let c = last.value.unicodeScalars.last, c == "\0" || c == "\n" {
                    last.value.unicodeScalars.removeLast()
                }
                expected.fields.append(last)
            }
            if again != expected {
                fuzzFailure("a parsed record printed back parses to another record: \(record) -> \(again)", input: printed)
            }
        }
        for f in record.fields.prefix(16) {
            _ = AuditRecord.decodeBytes(f.value)
            _ = AuditRecord.decodeString(f.value)
        }
        deliver(assembler.add(record))
        fuzzCheck(assembler.pendingCount <= AuditLimits.maxPendingEvents, "assembler holds \(assembler.pendingCount) events")
    }
    deliver(assembler.flush(keep: 64))
    fuzzCheck(assembler.pendingCount <= 64, "flush(keep: 64) left \(assembler.pendingCount) events")
    deliver(assembler.flush())
    fuzzCheck(assembler.pendingCount == 0, "flush() left \(assembler.pendingCount) events")
    return 0
}
